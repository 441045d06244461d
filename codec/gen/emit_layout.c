/*
 * kafkit-gen: facts about a struct's fields the emitters share: which are
 * tagged, which hold a length or CRC, and how its data is compressed.
 */
#include "emit_int.h"

bool kg__has_tagged(const kg_struct *s)
{
	for (size_t i = 0; i < s->nfields; i++)
		if (!kg_range_empty(s->fields[i]->tagged))
			return true;
	return false;
}

const kg_field *kg__length_field(const kg_struct *s)
{
	for (size_t i = 0; i < s->nfields; i++)
		if (s->fields[i]->is_length)
			return s->fields[i];
	return NULL;
}

const char *kg__codec_flags(const kg_decl *d)
{
	/* Magic 0 messages carry LZ4 with Kafka's old header checksum. */
	if (kg_range_has(d->versions, 0))
		return d->versions.hi == 0 ? "KC_COMPRESS_LZ4_LEGACY_HC"
					  : "(version == 0 ? KC_COMPRESS_LZ4_LEGACY_HC : 0u)";
	return "0u";
}

/* Whether lv is a length or crc field, whose value the encoder computes. */
bool kg__computed(const kg_field *f)
{
	return f->is_length || f->crc != KG_CRC_NONE;
}

/* Fields sorted by tag, for the tagged-field section. */
size_t kg__tagged_sorted(const kg_struct *s, const kg_field **v)
{
	size_t n = 0;
	for (size_t i = 0; i < s->nfields; i++)
		if (!kg_range_empty(s->fields[i]->tagged))
			v[n++] = s->fields[i];
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && v[k - 1]->tag > v[k]->tag; k--) {
			const kg_field *t = v[k];
			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	return n;
}

bool kg__is_root(const kg_struct *s)
{
	return s->decl->root == s;
}
