package herald

import "hash/fnv"

// Partitions is the number of partitions of every consumer group (issue 11,
// after MConnect Events' 12): 1, 2, 3, 4, 6 or 12 instances of a group each
// hold an equal share.
const Partitions = 12

// Partition returns the partition of an event with this CloudEvents
// partitionkey and id: FNV-1a (32 bit) of the partition key, or of the id
// when the event has none, modulo Partitions. Every path that places an
// event in a partition (ingest, backfills, tests) asks this function, so
// one key always lands in one partition and its events stay in order. The
// value is stored with each group log row; changing the hash would move
// keys between partitions of existing logs, so it must never change.
func Partition(partitionKey, id string) int {
	key := partitionKey
	if key == "" {
		key = id
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(key)) // hash.Hash never fails
	return int(h.Sum32() % Partitions)
}

// Partition is the event's partition (see the function Partition).
func (e *Event) Partition() int { return Partition(e.PartitionKey, e.CEID) }
