/*
 * kafkit-gen: the message and api tables of messages.c: a kc_msg_type per
 * declaration, and the kc_api table sorted by key with its lookups.
 */
#include <string.h>

#include "emit_int.h"

static const char *api_name(const kg_decl *d)
{
	const char *suffix = d->kind == KG_REQUEST ? "Request" : "Response";
	size_t n = strlen(d->name), k = strlen(suffix);
	if (n > k && strcmp(d->name + n - k, suffix) == 0)
		return kg_strndup(d->name, n - k);
	return d->name;
}

void kg__emit_tables(kg__buf *b, const kg_schema *sc)
{
	for (size_t i = 0; i < sc->ndecls; i++) {
		const kg_decl *d = sc->decls[i];
		const char *c = d->root->cname;
		kg__out(b, "static void v_init_%s(void *m)\n{\n\t%s_init(m);\n}\n", d->stem, c);
		kg__out(b, "static kc_err v_encode_%s(kc_writer *w, const void *m, int16_t v)\n"
			   "{\n\treturn %s_encode(w, m, v);\n}\n", d->stem, c);
		kg__out(b, "static kc_err v_decode_%s(kc_reader *r, void *m, int16_t v,\n"
			   "\t\t\t%*skc_arena *a)\n{\n\treturn %s_decode(r, m, v, a);\n}\n",
			d->stem, (int)strlen(d->stem), "", c);
		kg__out(b, "static size_t v_size_%s(const void *m, int16_t v)\n"
			   "{\n\treturn %s_size(m, v);\n}\n", d->stem, c);
		kg__out(b, "const kc_msg_type %s_type = {\n", c);
		kg__out(b, "\t\"%s\", sizeof(%s), %d, %d, %d,\n", d->name, c, d->versions.lo,
			d->versions.hi, kg_range_empty(d->flexible) ? KG_VMAX : d->flexible.lo);
		kg__out(b, "\tv_init_%s, v_encode_%s, v_decode_%s, v_size_%s,\n};\n\n", d->stem,
			d->stem, d->stem, d->stem);
	}
	kg__out(b, "static const kc_msg_type *const msg_types[] = {\n");
	for (size_t i = 0; i < sc->ndecls; i++)
		kg__out(b, "\t&%s_type,\n", sc->decls[i]->root->cname);
	kg__out(b, "};\n\n");
	kg__out(b, "const kc_msg_type *kc_msg_type_at(size_t i)\n{\n"
		   "\treturn i < sizeof msg_types / sizeof msg_types[0] ? msg_types[i] : NULL;\n"
		   "}\n\n");

	/* APIs by key */
	kg__out(b, "/* Sorted by key for kc_api_find(). */\n");
	kg__out(b, "static const kc_api apis[] = {\n");
	size_t napi = 0;
	for (int key = 0; key <= INT16_MAX; key++) {
		const kg_decl *rq = NULL, *rs = NULL;
		for (size_t i = 0; i < sc->ndecls; i++) {
			const kg_decl *d = sc->decls[i];
			if (!d->has_apikey || d->apikey != key)
				continue;
			if (d->kind == KG_REQUEST)
				rq = d;
			else
				rs = d;
		}
		if (!rq && !rs)
			continue;
		const kg_decl *m = rq ? rq : rs;
		kg__out(b, "\t{%d, \"%s\", %d, %d, %d, %s%s%s, %s%s%s},\n", key, api_name(m),
			m->versions.lo, m->versions.hi,
			kg_range_empty(m->flexible) ? KG_VMAX : m->flexible.lo,
			rq ? "&" : "", rq ? rq->root->cname : "NULL", rq ? "_type" : "",
			rs ? "&" : "", rs ? rs->root->cname : "NULL", rs ? "_type" : "");
		napi++;
	}
	if (napi == 0)
		kg__out(b, "\t{0, NULL, 0, 0, 0, NULL, NULL},\n");
	kg__out(b, "};\n\n");
	kg__out(b, "static const size_t napis = %zu;\n\n", napi);
	kg__out(b, "%s",
		"const kc_api *kc_api_find(int16_t api_key)\n"
		"{\n"
		"\tsize_t lo = 0, hi = napis;\n"
		"\twhile (lo < hi) {\n"
		"\t\tsize_t mid = lo + (hi - lo) / 2;\n"
		"\t\tif (apis[mid].key == api_key)\n"
		"\t\t\treturn &apis[mid];\n"
		"\t\tif (apis[mid].key < api_key)\n"
		"\t\t\tlo = mid + 1;\n"
		"\t\telse\n"
		"\t\t\thi = mid;\n"
		"\t}\n"
		"\treturn NULL;\n"
		"}\n"
		"\n"
		"const kc_api *kc_api_at(size_t i)\n"
		"{\n"
		"\treturn i < napis ? &apis[i] : NULL;\n"
		"}\n"
		"\n"
		"int16_t kc_request_header_version(int16_t api_key, int16_t api_version)\n"
		"{\n"
		"\tconst kc_api *a = kc_api_find(api_key);\n"
		"\tif (!a || !a->request)\n"
		"\t\treturn -1;\n"
		"\tif (api_key == 7 && api_version == 0)\n"
		"\t\treturn 0; /* ControlledShutdown v0 predates client_id */\n"
		"\treturn api_version >= a->request->flexible_min ? 2 : 1;\n"
		"}\n"
		"\n"
		"int16_t kc_response_header_version(int16_t api_key, int16_t api_version)\n"
		"{\n"
		"\tconst kc_api *a = kc_api_find(api_key);\n"
		"\tif (!a || !a->response)\n"
		"\t\treturn -1;\n"
		"\t/* ApiVersions: v0 header always, so a client can read it before it\n"
		"\t * knows what the broker speaks (KIP-511) */\n"
		"\tif (api_key == 18)\n"
		"\t\treturn 0;\n"
		"\treturn api_version >= a->response->flexible_min ? 1 : 0;\n"
		"}\n");
}
