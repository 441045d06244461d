#!/usr/bin/python3
"""kafka-python (2.0.x) against a kafkit mock cluster, driven by
tests/mockbroker/test_kafka_python.c.

  kpy_mock.py BOOTSTRAP TOPIC API_VERSION CODEC N

Produces N records (key b"k<i>", value b"v<i>-<bytes>") to partition 0 with
KafkaProducer(api_version=API_VERSION, compression_type=CODEC or None),
then reads the partition back from the beginning with a KafkaConsumer of
the same api_version and prints one line per record: "offset key value"
(value as hex). Exits non-zero when a send fails or fewer than N records
come back. API_VERSION is dotted ("0.9", "0.10.0", "0.11.0").
"""
import sys

from kafka import KafkaConsumer, KafkaProducer, TopicPartition


def main():
    bootstrap, topic, api, codec, n = sys.argv[1:6]
    api = tuple(int(x) for x in api.split("."))
    n = int(n)
    producer = KafkaProducer(bootstrap_servers=bootstrap, api_version=api,
                             compression_type=None if codec == "none" else codec,
                             acks=1, linger_ms=5, batch_size=4096,
                             retries=0)
    futures = []
    for i in range(n):
        value = b"v%d-" % i + bytes((i * 7 + j) & 0xFF for j in range(i % 50))
        futures.append(producer.send(topic, key=b"k%d" % i, value=value,
                                     partition=0))
    producer.flush(30)
    for f in futures:
        f.get(timeout=30)
    producer.close(10)

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, api_version=api,
                             group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest",
                             consumer_timeout_ms=10000)
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    got = 0
    for rec in consumer:
        print("%d %s %s" % (rec.offset, rec.key.decode(), rec.value.hex()))
        got += 1
        if got == n:
            break
    consumer.close()
    if got != n:
        sys.exit("kpy_mock: read %d of %d records" % (got, n))


if __name__ == "__main__":
    main()
