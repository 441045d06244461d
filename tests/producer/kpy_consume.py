#!/usr/bin/python3
"""kafka-python (2.0.x) reads back what the kafkit producer wrote, for
tests/producer/test_kafka_python.c.

  kpy_consume.py BOOTSTRAP TOPIC PARTITIONS N

Assigns partitions 0..PARTITIONS-1 of TOPIC, reads each from the beginning
with KafkaConsumer(api_version=(0, 11, 0)) (Fetch v4: RecordBatch v2) until
N records came back, and prints them sorted by partition and offset, one
per line:

  PARTITION OFFSET TIMESTAMP TIMESTAMP_TYPE KEY VALUE HEADERS

KEY and VALUE are hex, or "-" for null; HEADERS is "-" or
"name=hex;name=-;..." in record order. Exits non-zero when fewer than N
records come back within 30 s.
"""
import sys

from kafka import KafkaConsumer, TopicPartition


def hexor(b):
    return "-" if b is None else (b.hex() if b else "")


def main():
    bootstrap, topic, nparts, n = sys.argv[1:5]
    n = int(n)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap,
                             api_version=(0, 11, 0), group_id=None,
                             enable_auto_commit=False,
                             auto_offset_reset="earliest",
                             consumer_timeout_ms=30000)
    tps = [TopicPartition(topic, p) for p in range(int(nparts))]
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    recs = []
    for rec in consumer:
        headers = ";".join("%s=%s" % (k, hexor(v)) for k, v in rec.headers)
        recs.append((rec.partition, rec.offset, rec.timestamp,
                     rec.timestamp_type, hexor(rec.key), hexor(rec.value),
                     headers or "-"))
        if len(recs) == n:
            break
    consumer.close()
    for r in sorted(recs):
        # empty hex fields would vanish between blanks
        print(" ".join(str(x) if x != "" else "''" for x in r))
    if len(recs) != n:
        sys.exit("kpy_consume: read %d of %d records" % (len(recs), n))


if __name__ == "__main__":
    main()
