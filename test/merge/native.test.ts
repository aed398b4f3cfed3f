/**
 * The native kernels against the WebAssembly kernels (the suite: native-suite.ts), with their
 * AVX-512 paths where the CPU has them.
 */
import { nativeSuite } from './native-suite.js';

nativeSuite('');
