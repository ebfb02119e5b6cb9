package store

import (
	"bytes"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Owned names what one service keeps in its store: the kinds of its
// entities, its indexes, the aggregates whose versions it keeps, and the
// source of the events it emits (its outbox's). A service's store holds
// only what it owns; MoveOwned brings it there from a store that held
// several services'.
type Owned struct {
	Kinds      []string
	Indexes    []string
	Aggregates []string // aggregate types: "order"
	Source     string   // its events' source: "/services/orders"
}

// metaMovedFrom marks a store that MoveOwned filled: the move's first
// half is done and never done again.
var metaMovedFrom = []byte("moved_from")

// MoveOwned moves what o names from the store from to the store to:
// entities with their id sequences (an id is never given twice, before
// or after), indexes, aggregate versions (copied: from keeps them for
// the events it is still given), and the events waiting in from's outbox
// with o's source. It runs once per pair of stores and is safe to run
// again after a crash at any point: to is filled in one transaction that
// marks it, then the moved entities, indexes and outbox events are
// removed from from in another. It returns how many entities, index
// entries and events to received (0 when it had them already).
//
// Both stores must be open in this process and not yet in use.
func MoveOwned(from, to *Store, o Owned) (moved int, err error) {
	err = to.db.Update(func(dst *bolt.Tx) error {
		if dst.Bucket(bucketMeta).Get(metaMovedFrom) != nil {
			return nil // done before
		}
		err := from.db.View(func(src *bolt.Tx) error {
			n, err := copyOwned(src, dst, o)
			moved = n
			return err
		})
		if err != nil {
			return err
		}
		return dst.Bucket(bucketMeta).Put(metaMovedFrom, []byte(from.path))
	})
	if err != nil {
		return 0, fmt.Errorf("move %s's data from %s to %s: %w", o.Source, from.path, to.path, err)
	}
	err = from.db.Update(func(src *bolt.Tx) error {
		ents := src.Bucket(bucketEntities)
		for _, kind := range o.Kinds {
			if ents.Bucket([]byte(kind)) != nil {
				if err := ents.DeleteBucket([]byte(kind)); err != nil {
					return err
				}
			}
		}
		idx := src.Bucket(bucketIndexes)
		for _, name := range o.Indexes {
			if idx.Bucket([]byte(name)) != nil {
				if err := idx.DeleteBucket([]byte(name)); err != nil {
					return err
				}
			}
		}
		return deleteOutbox(src.Bucket(bucketOutbox), o.Source)
	})
	if err != nil {
		return moved, fmt.Errorf("remove %s's moved data from %s: %w", o.Source, from.path, err)
	}
	return moved, nil
}

func copyOwned(src, dst *bolt.Tx, o Owned) (int, error) {
	n := 0
	for _, kind := range o.Kinds {
		sb := src.Bucket(bucketEntities).Bucket([]byte(kind))
		if sb == nil {
			continue
		}
		db, err := dst.Bucket(bucketEntities).CreateBucketIfNotExists([]byte(kind))
		if err != nil {
			return n, err
		}
		if err := db.SetSequence(max(db.Sequence(), sb.Sequence())); err != nil {
			return n, err
		}
		if err := sb.ForEach(func(k, v []byte) error { n++; return db.Put(k, v) }); err != nil {
			return n, err
		}
	}
	for _, name := range o.Indexes {
		sb := src.Bucket(bucketIndexes).Bucket([]byte(name))
		if sb == nil {
			continue
		}
		db, err := dst.Bucket(bucketIndexes).CreateBucketIfNotExists([]byte(name))
		if err != nil {
			return n, err
		}
		if err := sb.ForEach(func(k, v []byte) error { n++; return db.Put(k, v) }); err != nil {
			return n, err
		}
	}
	if sb := src.Bucket(bucketIndexes).Bucket([]byte("aggregate_versions")); sb != nil {
		db, err := dst.Bucket(bucketIndexes).CreateBucketIfNotExists([]byte("aggregate_versions"))
		if err != nil {
			return n, err
		}
		for _, typ := range o.Aggregates {
			c, prefix := sb.Cursor(), []byte(typ+"/")
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				if err := db.Put(k, v); err != nil {
					return n, err
				}
			}
		}
	}
	// The outbox keeps its order: the moved events get the next seqs of
	// dst's outbox, oldest first.
	out := dst.Bucket(bucketOutbox)
	err := src.Bucket(bucketOutbox).ForEach(func(k, v []byte) error {
		var e Event
		if err := json.Unmarshal(v, &e); err != nil || e.Source != o.Source {
			return nil // not this service's (or unreadable: left where it is)
		}
		seq, err := out.NextSequence()
		if err != nil {
			return err
		}
		n++
		return out.Put(keyOf(seq), v)
	})
	return n, err
}

func deleteOutbox(b *bolt.Bucket, source string) error {
	var keys [][]byte
	err := b.ForEach(func(k, v []byte) error {
		var e Event
		if json.Unmarshal(v, &e) == nil && e.Source == source {
			keys = append(keys, bytes.Clone(k))
		}
		return nil
	})
	for _, k := range keys {
		if err == nil {
			err = b.Delete(k)
		}
	}
	return err
}

// Clear removes every entity of kind, keeping its id sequence: ids given
// before are not given again (a rebuild of a projection).
func (tx *Tx) Clear(kind string) error {
	b := tx.tx.Bucket(bucketEntities).Bucket([]byte(kind))
	if b == nil {
		return nil
	}
	seq := b.Sequence()
	if err := tx.tx.Bucket(bucketEntities).DeleteBucket([]byte(kind)); err != nil {
		return err
	}
	nb, err := tx.tx.Bucket(bucketEntities).CreateBucket([]byte(kind))
	if err != nil {
		return err
	}
	return nb.SetSequence(seq)
}

// ClearIndex removes the named index.
func (tx *Tx) ClearIndex(name string) error {
	if tx.tx.Bucket(bucketIndexes).Bucket([]byte(name)) == nil {
		return nil
	}
	return tx.tx.Bucket(bucketIndexes).DeleteBucket([]byte(name))
}

// ClearAggregates forgets the versions of every aggregate of a type.
func (tx *Tx) ClearAggregates(aggregateType string) error {
	b := tx.tx.Bucket(bucketIndexes).Bucket([]byte("aggregate_versions"))
	if b == nil {
		return nil
	}
	var keys [][]byte
	c, prefix := b.Cursor(), []byte(aggregateType+"/")
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}
