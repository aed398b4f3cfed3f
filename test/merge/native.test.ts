/**
 * The native merge kernel against the WebAssembly kernel (the suite: native-suite.ts), with its
 * AVX-512 paths where the CPU has them.
 */
import { nativeSuite } from './native-suite.js';

nativeSuite('');
