/** Benchmark programs (not tests): CPU decode throughput against memory bandwidth and Jlama. */
package io.quire.bench;
