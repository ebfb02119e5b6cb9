// Package store is the composer's embedded database, a bbolt file under
// [composer] data_dir. It keeps three things:
//
//   - entities of the built-in services (users, orders), by kind and id,
//     with ids from a per-kind sequence that never gives an id twice, even
//     after a delete or a restart;
//   - the outbox: events written in the same transaction as the entity they
//     describe, so that neither exists without the other, until the bus
//     has them (Pending, then Ack);
//   - the event store: every event of the platform, appended once per event
//     id, read back by type and subject (the CQRS read side, and replays).
package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Event is a CloudEvents-shaped envelope.
type Event struct {
	ID            string          `json:"id"`
	Type          string          `json:"type"`    // user.created
	Source        string          `json:"source"`  // the service: /services/users
	Subject       string          `json:"subject"` // the aggregate id
	Time          time.Time       `json:"time"`
	Data          json.RawMessage `json:"data,omitempty"`
	CorrelationID string          `json:"correlationid,omitempty"`
	CausationID   string          `json:"causationid,omitempty"`
	// TraceParent is the W3C trace context of what caused the event
	// (CloudEvents' distributed tracing extension).
	TraceParent string `json:"traceparent,omitempty"`
	// AggregateType and AggregateVersion (CloudEvents extension
	// attributes) name the aggregate the event belongs to, with Subject
	// its id ("order" 7), and its place in that aggregate's history: 1,
	// 2, 3, ... with no gap (Tx.Emit keeps to it).
	AggregateType    string `json:"aggregatetype,omitempty"`
	AggregateVersion uint64 `json:"aggregateversion,omitempty"`
	// DataSchema names the version of Data's shape (CloudEvents'
	// dataschema, "/schemas/order.created/v2"); "" is a type's first.
	DataSchema string `json:"dataschema,omitempty"`
	// Seq is the event's position in the outbox or the event store.
	Seq uint64 `json:"-"`
}

var (
	bucketEntities = []byte("entities") // kind -> (id -> json)
	bucketOutbox   = []byte("outbox")   // seq -> event json
	bucketEvents   = []byte("events")   // seq -> event json
	bucketEventIDs = []byte("event_ids")
	bucketIndexes  = []byte("indexes")  // name -> (key -> id)
	bucketOffsets  = []byte("offsets")  // consumer -> last handled seq
	bucketMeta     = []byte("meta")     // the store's own settings
	bucketRegistry = []byte("registry") // instance id -> registered instance json
)

// Store is an open database. It is safe for concurrent use.
type Store struct {
	db  *bolt.DB
	now func() time.Time
	// emitted, when set, is called after every transaction that put events
	// in the outbox has committed (the relay's wake-up); appended after
	// every one that added events to the event store (the projections').
	emitted, appended func()
	path              string
	// needNode: ids need this store's node (several instances make ids);
	// node is kept in the meta bucket once claimed.
	needNode atomic.Bool
}

// NodeBits is the place of the node in an id: ids made by node n are
// n<<NodeBits + 1, + 2, ... (node 0, the store of a single instance, makes
// 1, 2, 3, ...). With 37 bits for the sequence and 16 for the node, ids
// stay below 2^53, exact in every JSON reader.
const NodeBits = 37

// MaxNode is the largest node number.
const MaxNode = 1<<(53-NodeBits) - 1

// ErrNoNode is an id asked for before the store has its node, on a
// platform whose instances share the ids (see RequireNode).
var ErrNoNode = errors.New("this instance has no id range yet: the event bus has not been reachable since it started")

// RequireNode says that ids need a node (SetNode): several instances
// make ids, and each must make its own.
func (s *Store) RequireNode() { s.needNode.Store(true) }

// Node returns the store's node number, and whether it has one.
func (s *Store) Node() (n uint64, ok bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketMeta).Get([]byte("node")); v != nil {
			n, ok = binary.BigEndian.Uint64(v), true
		}
		return nil
	})
	return n, ok, err
}

// SetNode gives the store its node number (1 to MaxNode), once: the ids
// it makes from then on are its own.
func (s *Store) SetNode(n uint64) error {
	if n < 1 || n > MaxNode {
		return fmt.Errorf("node %d is outside 1..%d", n, MaxNode)
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if v := b.Get([]byte("node")); v != nil && binary.BigEndian.Uint64(v) != n {
			return fmt.Errorf("the store has node %d already", binary.BigEndian.Uint64(v))
		}
		return b.Put([]byte("node"), keyOf(n))
	})
}

// OnEmit sets the function called after a transaction that emitted events
// commits. Set it before the store is shared.
func (s *Store) OnEmit(f func()) { s.emitted = f }

// OnAppend sets the function called after a transaction that added
// events to the event store commits. Set it before the store is shared.
func (s *Store) OnAppend(f func()) { s.appended = f }

func (s *Store) notifyAppended(added bool) {
	if added && s.appended != nil {
		s.appended()
	}
}

// ErrInUse is a store that another process holds open (bbolt locks its
// file): a composer running on the same data directory.
var ErrInUse = errors.New("the store is in use by another process (is the composer running on this data directory?)")

// Open opens (creating if needed) the database at path. A file another
// process holds is ErrInUse after 5 s.
func Open(path string) (*Store, error) { return OpenWait(path, 5*time.Second) }

// OpenWait is Open, waiting at most wait for another process to let go
// of the file.
func OpenWait(path string, wait time.Duration) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: wait})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("open the store %s: %w", path, ErrInUse)
	}
	if err != nil {
		return nil, fmt.Errorf("open the store %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketEntities, bucketOutbox, bucketEvents, bucketEventIDs, bucketIndexes, bucketOffsets, bucketMeta, bucketRegistry} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, err
	}
	return &Store{db: db, now: time.Now, path: path}, nil
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Tx is a write transaction: everything it does is kept, or nothing.
type Tx struct {
	tx       *bolt.Tx
	now      func() time.Time
	emitted  bool
	needNode bool
}

// Update runs fn in a write transaction, committed when fn returns nil.
func (s *Store) Update(fn func(*Tx) error) error {
	var t *Tx
	err := s.db.Update(func(tx *bolt.Tx) error {
		t = &Tx{tx: tx, now: s.now, needNode: s.needNode.Load()}
		return fn(t)
	})
	if err == nil && t.emitted && s.emitted != nil {
		s.emitted()
	}
	return err
}

func (tx *Tx) kind(kind string) (*bolt.Bucket, error) {
	return tx.tx.Bucket(bucketEntities).CreateBucketIfNotExists([]byte(kind))
}

// NextID returns the next id of kind: 1, 2, 3, ... never the same twice.
//
// With a node (SetNode), the ids are the node's own: node<<NodeBits + 1,
// + 2, ...; on a store that needs a node and has none, ErrNoNode.
func (tx *Tx) NextID(kind string) (uint64, error) {
	var node uint64
	if v := tx.tx.Bucket(bucketMeta).Get([]byte("node")); v != nil {
		node = binary.BigEndian.Uint64(v)
	} else if tx.needNode {
		return 0, ErrNoNode
	}
	b, err := tx.kind(kind)
	if err != nil {
		return 0, err
	}
	seq, err := b.NextSequence()
	if seq >= 1<<NodeBits {
		return 0, fmt.Errorf("no more %s ids", kind)
	}
	return node<<NodeBits | seq, err
}

// Put stores v, as JSON, as the entity id of kind.
func (tx *Tx) Put(kind string, id uint64, v any) error {
	b, err := tx.kind(kind)
	if err != nil {
		return err
	}
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(keyOf(id), data)
}

// Get reads the entity id of kind into v; found is false when there is none.
func (tx *Tx) Get(kind string, id uint64, v any) (found bool, err error) {
	return get(tx.tx, kind, id, v)
}

// PutIndex maps key to id in the named index (a unique name, an email).
func (tx *Tx) PutIndex(index, key string, id uint64) error {
	b, err := tx.tx.Bucket(bucketIndexes).CreateBucketIfNotExists([]byte(index))
	if err != nil {
		return err
	}
	return b.Put([]byte(key), keyOf(id))
}

// GetIndex looks key up in the named index.
func (tx *Tx) GetIndex(index, key string) (id uint64, found bool, err error) {
	b := tx.tx.Bucket(bucketIndexes).Bucket([]byte(index))
	if b == nil {
		return 0, false, nil
	}
	v := b.Get([]byte(key))
	if v == nil {
		return 0, false, nil
	}
	return binary.BigEndian.Uint64(v), true, nil
}

// Emit puts an event in the outbox, in this transaction. An empty ID is
// filled with a new unique one, a zero Time with the current time.
func (tx *Tx) Emit(e Event) (Event, error) {
	if e.ID == "" {
		e.ID = NewID()
	}
	if e.AggregateType != "" {
		// The aggregate's next version, or a conflict: two writers that
		// both read version N cannot both append N+1.
		key := e.AggregateType + "/" + e.Subject
		last, _, err := tx.GetIndex("aggregate_versions", key)
		if err != nil {
			return e, err
		}
		if e.AggregateVersion != last+1 {
			return e, fmt.Errorf("%w: %s is at version %d, not %d", ErrVersionConflict, key, last, e.AggregateVersion-1)
		}
		if err := tx.PutIndex("aggregate_versions", key, e.AggregateVersion); err != nil {
			return e, err
		}
	}
	if e.Time.IsZero() {
		e.Time = tx.now().UTC()
	}
	b := tx.tx.Bucket(bucketOutbox)
	seq, err := b.NextSequence()
	if err != nil {
		return e, err
	}
	e.Seq = seq
	data, err := json.Marshal(e)
	if err != nil {
		return e, err
	}
	tx.emitted = true
	return e, b.Put(keyOf(seq), data)
}

// ErrVersionConflict is an event whose aggregate version is not the next
// one of its aggregate.
var ErrVersionConflict = errors.New("aggregate version conflict")

// AggregateVersion is the last version of an aggregate ("order", "7")
// that an event was emitted with (0: none).
func (tx *Tx) AggregateVersion(aggregateType, id string) (uint64, error) {
	v, _, err := tx.GetIndex("aggregate_versions", aggregateType+"/"+id)
	return v, err
}

// Observe moves the version of e's aggregate on to e's, when e is newer
// than what tx has: the next Emit for that aggregate follows on from it
// (how an instance keeps up with the versions other instances emit).
func (tx *Tx) Observe(e Event) error {
	if e.AggregateType == "" {
		return nil
	}
	key := e.AggregateType + "/" + e.Subject
	last, _, err := tx.GetIndex("aggregate_versions", key)
	if err != nil || e.AggregateVersion <= last {
		return err
	}
	return tx.PutIndex("aggregate_versions", key, e.AggregateVersion)
}

// Get reads the entity id of kind into v.
func (s *Store) Get(kind string, id uint64, v any) (found bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		found, err = get(tx, kind, id, v)
		return err
	})
	return found, err
}

func get(tx *bolt.Tx, kind string, id uint64, v any) (bool, error) {
	b := tx.Bucket(bucketEntities).Bucket([]byte(kind))
	if b == nil {
		return false, nil
	}
	data := b.Get(keyOf(id))
	if data == nil {
		return false, nil
	}
	return true, json.Unmarshal(data, v)
}

// List calls fn with every entity of kind, in id order, until fn returns
// an error.
func (s *Store) List(kind string, fn func(id uint64, data []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error { return list(tx, kind, fn) })
}

// List is Store.List in tx; fn must not change kind's entities (data is
// valid only during the call).
func (tx *Tx) List(kind string, fn func(id uint64, data []byte) error) error {
	return list(tx.tx, kind, fn)
}

func list(tx *bolt.Tx, kind string, fn func(id uint64, data []byte) error) error {
	b := tx.Bucket(bucketEntities).Bucket([]byte(kind))
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, v []byte) error { return fn(binary.BigEndian.Uint64(k), v) })
}

// Pending returns up to limit events of the outbox, oldest first.
func (s *Store) Pending(limit int) ([]Event, error) {
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("outbox entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			e.Seq = binary.BigEndian.Uint64(k)
			out = append(out, e)
		}
		return nil
	})
	return out, err
}

// OutboxLen returns how many events wait in the outbox.
func (s *Store) OutboxLen() (int, error) {
	var n int
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketOutbox).Stats().KeyN
		return nil
	})
	return n, err
}

// Ack removes events from the outbox once the bus has them.
func (s *Store) Ack(seqs ...uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketOutbox)
		for _, seq := range seqs {
			if err := b.Delete(keyOf(seq)); err != nil {
				return err
			}
		}
		return nil
	})
}

// Append adds an event to the event store, unless an event with its ID is
// there already (added is then false): delivery is at least once, the store
// keeps each event once.
func (s *Store) Append(e Event) (added bool, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		added, err = appendEvent(tx, &e)
		return err
	})
	s.notifyAppended(err == nil && added)
	return added, err
}

// appendEvent adds e to the event store in tx, giving it its Seq, unless
// an event with its ID is there already.
func appendEvent(tx *bolt.Tx, e *Event) (added bool, err error) {
	if e.ID == "" {
		return false, errors.New("an event needs an id")
	}
	ids := tx.Bucket(bucketEventIDs)
	if ids.Get([]byte(e.ID)) != nil {
		return false, nil
	}
	b := tx.Bucket(bucketEvents)
	seq, err := b.NextSequence()
	if err != nil {
		return false, err
	}
	e.Seq = seq
	data, err := json.Marshal(e)
	if err != nil {
		return false, err
	}
	if err := b.Put(keyOf(seq), data); err != nil {
		return false, err
	}
	// The aggregate's version, as seen here: the next Emit of this
	// instance for it (a projection of another's events) follows on.
	if err := (&Tx{tx: tx}).Observe(*e); err != nil {
		return false, err
	}
	return true, ids.Put([]byte(e.ID), keyOf(seq))
}

// Query selects events of the event store; empty fields select all.
type Query struct {
	Type    string
	Subject string
	// AggregateType, with Subject, asks for one aggregate's events, in
	// version order.
	AggregateType string
	Since         time.Time // events at or after
	After         uint64    // events appended after this seq
	Last          int       // only the last this many of those that match (0: all)
	Limit         int       // at most this many (0: no limit)
}

// Events returns the events that match q, in the order they were appended.
func (s *Store) Events(q Query) ([]Event, error) {
	if q.Last > 0 {
		return s.lastEvents(q)
	}
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(keyOf(q.After + 1)); k != nil; k, v = c.Next() {
			if q.Limit > 0 && len(out) >= q.Limit {
				break
			}
			// Cheap filters before decoding.
			if q.Type != "" && !bytes.Contains(v, []byte(q.Type)) || q.Subject != "" && !bytes.Contains(v, []byte(q.Subject)) {
				continue
			}
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("event %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if q.Type != "" && e.Type != q.Type || q.Subject != "" && e.Subject != q.Subject || e.Time.Before(q.Since) ||
				q.AggregateType != "" && e.AggregateType != q.AggregateType {
				continue
			}
			e.Seq = binary.BigEndian.Uint64(k)
			out = append(out, e)
		}
		return nil
	})
	if q.AggregateType != "" {
		sort.SliceStable(out, func(i, j int) bool { return out[i].AggregateVersion < out[j].AggregateVersion })
	}
	return out, err
}

// lastEvents returns the last q.Last events that match q, oldest first.
func (s *Store) lastEvents(q Query) ([]Event, error) {
	var out []Event
	err := s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Last(); k != nil && len(out) < q.Last; k, v = c.Prev() {
			seq := binary.BigEndian.Uint64(k)
			if seq <= q.After {
				break
			}
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("event %d: %w", seq, err)
			}
			if q.Type != "" && e.Type != q.Type || q.Subject != "" && e.Subject != q.Subject || e.Time.Before(q.Since) {
				continue
			}
			e.Seq = seq
			out = append(out, e)
		}
		return nil
	})
	slices.Reverse(out)
	return out, err
}

// EventsAfter returns up to limit events appended after seq whose type is
// one of types (any type when there are none), in order, and the seq of
// the last event it looked at, of any type (seq when there was none): a
// consumer that handled the events can move past that one.
func (s *Store) EventsAfter(seq uint64, types []string, limit int) (out []Event, scanned uint64, err error) {
	scanned = seq
	wanted := func(v []byte) bool {
		for _, t := range types {
			if bytes.Contains(v, []byte(t)) {
				return true
			}
		}
		return len(types) == 0
	}
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketEvents).Cursor()
		for k, v := c.Seek(keyOf(seq + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			scanned = binary.BigEndian.Uint64(k)
			if !wanted(v) {
				continue
			}
			var e Event
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("event %d: %w", scanned, err)
			}
			if len(types) > 0 && !slices.Contains(types, e.Type) {
				continue
			}
			e.Seq = scanned
			out = append(out, e)
		}
		return nil
	})
	return out, scanned, err
}

// AppendBatch appends events in one transaction, each unless an event
// with its ID is there already; it returns how many were added.
func (s *Store) AppendBatch(es []Event) (added int, err error) {
	err = s.db.Update(func(tx *bolt.Tx) error {
		added = 0
		for _, e := range es {
			ok, err := appendEvent(tx, &e)
			if err != nil {
				return err
			}
			if ok {
				added++
			}
		}
		return nil
	})
	s.notifyAppended(err == nil && added > 0)
	return added, err
}

// Offset returns the last event seq a consumer has handled (0: none).
func (s *Store) Offset(consumer string) (uint64, error) {
	var off uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketOffsets).Get([]byte(consumer)); v != nil {
			off = binary.BigEndian.Uint64(v)
		}
		return nil
	})
	return off, err
}

// SetOffset records that a consumer has handled every event up to seq.
func (s *Store) SetOffset(consumer string, seq uint64) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketOffsets).Put([]byte(consumer), keyOf(seq))
	})
}

// Offset is Store.Offset in tx.
func (tx *Tx) Offset(consumer string) uint64 {
	if v := tx.tx.Bucket(bucketOffsets).Get([]byte(consumer)); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// SetOffset is Store.SetOffset in tx: the position moves with what tx
// did for the events up to it, or not at all.
func (tx *Tx) SetOffset(consumer string, seq uint64) error {
	return tx.tx.Bucket(bucketOffsets).Put([]byte(consumer), keyOf(seq))
}

// EventCount returns how many events the event store holds, and the seq
// of the last.
func (s *Store) EventCount() (n int, last uint64, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketEvents)
		n = b.Stats().KeyN
		if k, _ := b.Cursor().Last(); k != nil {
			last = binary.BigEndian.Uint64(k)
		}
		return nil
	})
	return n, last, err
}

// PutRegistration keeps an instance that registered at run time, as
// JSON, by its id; nil data removes it.
func (s *Store) PutRegistration(id string, data []byte) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRegistry)
		if data == nil {
			return b.Delete([]byte(id))
		}
		return b.Put([]byte(id), data)
	})
}

// Registrations calls fn with every kept registration.
func (s *Store) Registrations(fn func(id string, data []byte) error) error {
	return s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRegistry).ForEach(func(k, v []byte) error { return fn(string(k), v) })
	})
}

// InstanceID returns the id of this store, made at its first call and the
// same ever after: it names the composer instance that owns the store
// (its own Kafka consumer group for the event store, for one).
func (s *Store) InstanceID() (string, error) {
	var id string
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketMeta)
		if v := b.Get([]byte("instance_id")); v != nil {
			id = string(v)
			return nil
		}
		id = NewID()[:12]
		return b.Put([]byte("instance_id"), []byte(id))
	})
	return id, err
}

// NewID returns a new random event id (128 bits, hex).
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

func keyOf(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}
