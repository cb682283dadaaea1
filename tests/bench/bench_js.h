/*
 * tests/bench/bench_js.h — tern-bench's JetStream modes.
 *
 *   jspub    async publish: o->msgs messages into a file stream with at most
 *            o->window PubAcks outstanding; msgs/s acknowledged
 *   jssync   one publish at a time, each waiting for its PubAck; latency
 *            percentiles of publish → PubAck
 *   jsfetch  fill the stream (untimed), then a durable pull consumer with
 *            explicit acks fetches batches of 256 and acks every message;
 *            msgs/s consumed and acknowledged
 *
 * Each mode creates stream BENCH on o->subject itself (a fresh server per
 * measurement) and checks every PubAck for an error and a contiguous
 * sequence, and every fetched message for the expected stream sequence.
 */
#ifndef TERN_BENCH_JS_H
#define TERN_BENCH_JS_H

#include "tests/bench/bench_opts.h"

int bench_js_run(const struct bench_opts *o);

#endif
