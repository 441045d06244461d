/*
 * kafkit codec: umbrella header.
 */
#ifndef KAFKIT_CODEC_H
#define KAFKIT_CODEC_H

#include "kafkit/buf.h"
#include "kafkit/compress.h"
#include "kafkit/crc.h"
#include "kafkit/err.h"
#include "kafkit/messages.h"
#include "kafkit/protocol.h"
#include "kafkit/records.h"

#endif
