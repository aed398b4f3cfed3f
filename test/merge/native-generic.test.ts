/**
 * The native-suite again with the AVX-512 paths turned off (MERGELENS_NATIVE_AVX512=0, read when
 * the addon loads; each test file runs in its own process): the plain loops other CPUs run,
 * and the pair kernel's AVX2 path, must write the same bytes too.
 */
process.env.MERGELENS_NATIVE_AVX512 = '0';
const { nativeSuite } = await import('./native-suite.js');

nativeSuite(' (AVX-512 paths off)');
