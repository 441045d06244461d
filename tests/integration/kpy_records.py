#!/usr/bin/python3
"""Record-format interop with kafka-python (2.0.x), driven by
tests/codec/test_kpy_interop.c.

  kpy_records.py check-ours DIR    read DIR/ours-m<magic>-c<codec>.bin (built
                                   by kafkit) with kafka-python and compare
                                   every record with the shared generator
  kpy_records.py write-theirs DIR  build DIR/kpy-m<magic>-c<codec>.bin with
                                   kafka-python's builders

Both sides derive the records from the same rules (records(), below, and
gen_record() in the C test). Exits non-zero on any mismatch, and when
kafka-python or a codec module it needs is missing: the test must not pass
without them (Debian: python3-kafka python3-snappy python3-lz4
python3-zstandard python3-xxhash).
"""
import os
import struct
import sys

from kafka import codec as kcodec
from kafka.record.default_records import (DefaultRecordBatch,
                                          DefaultRecordBatchBuilder)
from kafka.record.legacy_records import LegacyRecordBatchBuilder
from kafka.record.memory_records import MemoryRecords

NRECORDS = 60
# (magic, codec): every codec each magic allows (no zstd below magic 2).
CASES = [(2, c) for c in range(5)] + [(m, c) for m in (0, 1) for c in range(4)]
PRODUCER_ID, PRODUCER_EPOCH, BASE_SEQUENCE = 4242, 7, 100


def require_codecs():
    missing = []
    if not kcodec.has_snappy():
        missing.append("python3-snappy")
    if not kcodec.has_lz4():
        missing.append("python3-lz4")
    if not kcodec.has_zstd():
        missing.append("python3-zstandard")
    try:
        import xxhash  # noqa: F401  (LZ4 framing of magic 0)
    except ImportError:
        missing.append("python3-xxhash")
    if missing:
        sys.exit("kpy_records: missing codec modules: " + " ".join(missing))


def records(magic):
    """The records both sides build: (timestamp, key, value, headers)."""
    out = []
    for i in range(NRECORDS):
        ts = None if magic == 0 else 1600000000000 + i * 10 - (i % 4) * 3
        key = None if i % 5 == 0 else b"key-%d" % i
        if i % 11 == 7:
            value = None
        else:
            value = bytes((i * 7 + j) & 0xFF for j in range((i * 13) % 300))
        headers = []
        if magic == 2:
            for k in range(i % 3):
                hv = None if k == 1 else b"v%d-%d" % (i, k)
                headers.append(("h%d" % k, hv))
        out.append((ts, key, value, headers))
    return out


def transactional(codec):
    return codec % 2 == 1


def fail(msg):
    sys.exit("kpy_records: " + msg)


def check_batch_header(name, data, codec):
    (base_offset, _len, _epoch, magic, _crc, attrs, last_delta, _first_ts,
     _max_ts, pid, epoch, seq, count) = DefaultRecordBatch.HEADER_STRUCT.unpack_from(data)
    want = (0, 2, codec | (0x10 if transactional(codec) else 0),
            NRECORDS - 1, PRODUCER_ID, PRODUCER_EPOCH, BASE_SEQUENCE, NRECORDS)
    got = (base_offset, magic, attrs, last_delta, pid, epoch, seq, count)
    if got != want:
        fail("%s: header %r, want %r" % (name, got, want))


def check_ours(d):
    for magic, codec in CASES:
        name = "ours-m%d-c%d.bin" % (magic, codec)
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()
        if magic == 2:
            check_batch_header(name, data, codec)
        want = records(magic)
        got = []
        mr = MemoryRecords(data)
        batches = 0
        while mr.has_next():
            batch = mr.next_batch()
            batches += 1
            if not batch.validate_crc():
                fail("%s: CRC rejected by kafka-python" % name)
            if batch.compression_type != codec:
                fail("%s: codec %d" % (name, batch.compression_type))
            for rec in batch:
                got.append(rec)
        if mr.valid_bytes() != len(data):
            fail("%s: %d of %d bytes read" % (name, mr.valid_bytes(), len(data)))
        expect_batches = 1 if magic == 2 or codec else NRECORDS
        if batches != expect_batches or len(got) != NRECORDS:
            fail("%s: %d batches, %d records" % (name, batches, len(got)))
        for i, (rec, (ts, key, value, headers)) in enumerate(zip(got, want)):
            fields = (rec.offset, rec.timestamp, rec.key, rec.value,
                      list(rec.headers))
            if fields != (i, ts, key, value, headers):
                fail("%s: record %d is %r, want %r" %
                     (name, i, fields, (i, ts, key, value, headers)))
        print("ok %s %d records" % (name, len(got)))


def write_theirs(d):
    for magic, codec in CASES:
        name = "kpy-m%d-c%d.bin" % (magic, codec)
        if magic == 2:
            b = DefaultRecordBatchBuilder(
                magic=2, compression_type=codec,
                is_transactional=transactional(codec),
                producer_id=PRODUCER_ID, producer_epoch=PRODUCER_EPOCH,
                base_sequence=BASE_SEQUENCE, batch_size=1 << 24)
        else:
            b = LegacyRecordBatchBuilder(magic=magic, compression_type=codec,
                                         batch_size=1 << 24)
        for i, (ts, key, value, headers) in enumerate(records(magic)):
            if magic == 2:
                meta = b.append(i, ts, key, value, headers)
            else:
                meta = b.append(i, ts, key, value)
            if meta is None:
                fail("%s: append %d refused" % (name, i))
        data = bytes(b.build())
        # kafka-python drops compression that does not pay; the records
        # above compress, so the codec must be there.
        attrs = data[22] if magic == 2 else data[17]
        if attrs & 7 != codec:
            fail("%s: built with codec %d" % (name, attrs & 7))
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        print("ok %s %d bytes" % (name, len(data)))


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("check-ours", "write-theirs"):
        sys.exit(__doc__)
    require_codecs()
    if sys.argv[1] == "check-ours":
        check_ours(sys.argv[2])
    else:
        write_theirs(sys.argv[2])


if __name__ == "__main__":
    main()
