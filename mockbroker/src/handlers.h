/*
 * kafkit mock broker: the api handlers (internal), one file each.
 *
 * A handler gets the decoded request body and a response body already set
 * to its defaults (kc_<api>_response_init), fills the response (arrays from
 * rq->arena), records the first error code with km__req_error, and returns
 * 0, KM__PARK (Fetch only, when rq->may_park), or a negative errno
 * (-ENOMEM: the server closes the connection). When rq->forced_error is set
 * it answers every element with that code and changes no state.
 *
 * Threading: the cluster's I/O thread.
 */
#ifndef KAFKIT_MOCK_HANDLERS_H
#define KAFKIT_MOCK_HANDLERS_H

#include "kafka_errors.h"
#include "kafkit/messages.h"
#include "server.h"

typedef int (*km__handler_fn)(km__req *rq, const void *req, void *resp);

/* The handler serving api_key, or NULL when the mock does not serve it. */
km__handler_fn km__handler_for(int16_t api_key);

int km__handle_api_versions(km__req *rq, const void *req, void *resp);
int km__handle_metadata(km__req *rq, const void *req, void *resp);
int km__handle_produce(km__req *rq, const void *req, void *resp);
int km__handle_fetch(km__req *rq, const void *req, void *resp);
int km__handle_list_offsets(km__req *rq, const void *req, void *resp);
int km__handle_init_producer_id(km__req *rq, const void *req, void *resp);
int km__handle_find_coordinator(km__req *rq, const void *req, void *resp);

/* n zeroed elements of size sz from the request arena (NULL when n is 0
 * or memory ran out: check n). */
void *km__req_array(km__req *rq, size_t n, size_t sz);

/* kc_str of a NUL-terminated string owned by the cluster. */
static inline kc_str km__str(const char *s, size_t len)
{
	return (kc_str){s, (int32_t)len};
}

#endif
