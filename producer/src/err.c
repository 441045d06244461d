/* Names and sentences for kp_err, and kp_free(). */
#include "buf_int.h"
#include "kafkit/producer.h"

const char *kp_err_name(kp_err err)
{
	switch (err) {
#define E(x)                                                                   \
	case x:                                                                \
		return #x;
		E(KP_OK)
		E(KP_ERR_NOMEM)
		E(KP_ERR_INVALID_ARG)
		E(KP_ERR_UNKNOWN_KEY)
		E(KP_ERR_BAD_VALUE)
		E(KP_ERR_CONF_CONFLICT)
		E(KP_ERR_TRUNCATED)
		E(KP_ERR_BUFFER_FULL)
		E(KP_ERR_RECORD_TOO_LARGE)
		E(KP_ERR_UNKNOWN_TOPIC)
		E(KP_ERR_UNKNOWN_PARTITION)
		E(KP_ERR_DELIVERY_TIMEOUT)
		E(KP_ERR_TIMED_OUT)
		E(KP_ERR_BROKER)
		E(KP_ERR_FATAL)
		E(KP_ERR_CLOSED)
		E(KP_ERR_UNSUPPORTED)
		E(KP_ERR_ENCODE)
		E(KP_ERR_WRONG_THREAD)
#undef E
	}
	return "KP_ERR_?";
}

const char *kp_err_str(kp_err err)
{
	switch (err) {
	case KP_OK: return "success";
	case KP_ERR_NOMEM: return "out of memory";
	case KP_ERR_INVALID_ARG: return "invalid argument";
	case KP_ERR_UNKNOWN_KEY: return "unknown configuration key";
	case KP_ERR_BAD_VALUE: return "invalid configuration value";
	case KP_ERR_CONF_CONFLICT:
		return "configuration values contradict each other";
	case KP_ERR_TRUNCATED: return "destination buffer too small";
	case KP_ERR_BUFFER_FULL:
		return "buffer.memory still full after max.block.ms";
	case KP_ERR_RECORD_TOO_LARGE:
		return "record larger than max.request.size or buffer.memory";
	case KP_ERR_UNKNOWN_TOPIC:
		return "topic not in metadata after max.block.ms";
	case KP_ERR_UNKNOWN_PARTITION:
		return "partition does not exist in the topic";
	case KP_ERR_DELIVERY_TIMEOUT:
		return "not acknowledged within delivery.timeout.ms";
	case KP_ERR_TIMED_OUT: return "timed out";
	case KP_ERR_BROKER: return "the broker rejected the record";
	case KP_ERR_FATAL: return "the idempotent producer hit a fatal error";
	case KP_ERR_CLOSED:
		return "the producer was closed before the record was sent";
	case KP_ERR_UNSUPPORTED: return "the broker lacks a needed feature";
	case KP_ERR_ENCODE: return "the record batch could not be built";
	case KP_ERR_WRONG_THREAD:
		return "blocking call from the producer's own thread";
	}
	return "unknown error";
}

void kp_free(void *p)
{
	kc__free(p);
}
