// Package balancer picks the instance of a service that serves a request:
// round robin, least requests or random, over healthy instances only.
package balancer

import (
	"cmp"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Health is what the health checks know of an instance.
type Health int32

// The health of an instance.
const (
	Unknown   Health = iota // not probed yet
	Healthy                 // its last probes passed
	Unhealthy               // its last probes failed
)

func (h Health) String() string {
	switch h {
	case Healthy:
		return "healthy"
	case Unhealthy:
		return "unhealthy"
	}
	return "unknown"
}

// Instance is one address of a service. Its health and in-flight count
// are safe for concurrent use.
type Instance struct {
	Address  string   // e.g. http://127.0.0.1:7001
	URL      *url.URL // Address parsed; nil when it does not parse
	health   atomic.Int32
	inFlight atomic.Int64
	passed   atomic.Bool

	// Outlier ejection (Balancer.Observe): the real requests that failed
	// in a row, the times ejected, and until when (Unix nanoseconds; 0:
	// never).
	failures     atomic.Int32
	ejections    atomic.Int32
	ejectedUntil atomic.Int64

	mu      sync.Mutex
	changed chan struct{} // closed at the next change of health; nil until asked for
}

// NewInstance returns an instance of unknown health.
func NewInstance(address string) *Instance {
	u, err := url.Parse(address)
	if err != nil {
		u = nil
	}
	return &Instance{Address: address, URL: u}
}

// Health returns the instance's health.
func (in *Instance) Health() Health { return Health(in.health.Load()) }

// SetHealth records the instance's health (the health checker calls it).
func (in *Instance) SetHealth(h Health) {
	if Health(in.health.Swap(int32(h))) == h {
		return
	}
	in.mu.Lock()
	if in.changed != nil {
		close(in.changed)
		in.changed = nil
	}
	in.mu.Unlock()
}

// Changed returns a channel that is closed when the instance's health
// next changes, for those who wait for it (a dependency to be healthy).
func (in *Instance) Changed() <-chan struct{} {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.changed == nil {
		in.changed = make(chan struct{})
	}
	return in.changed
}

// Passed reports whether a health probe of the instance has ever passed.
func (in *Instance) Passed() bool { return in.passed.Load() }

// MarkPassed records that a health probe passed (the health checker calls it).
func (in *Instance) MarkPassed() { in.passed.Store(true) }

// EjectedUntil is when the instance's ejection ends; the zero time when
// it is not ejected.
func (in *Instance) EjectedUntil() time.Time {
	if u := in.ejectedUntil.Load(); u > time.Now().UnixNano() {
		return time.Unix(0, u)
	}
	return time.Time{}
}

// Ejections is how many times the instance was ejected.
func (in *Instance) Ejections() int { return int(in.ejections.Load()) }

// InFlight returns the number of requests the instance is serving.
func (in *Instance) InFlight() int64 { return in.inFlight.Load() }

// Policy is a load-balancing policy.
type Policy string

// The policies.
const (
	// RoundRobin is smooth weighted round robin (nginx's): with equal
	// weights, plain round robin.
	RoundRobin Policy = "round_robin"
	// LeastRequests picks the lesser loaded (in flight / weight) of two
	// random instances: the power of two choices.
	LeastRequests Policy = "least_requests"
	Random        Policy = "random"
	// ConsistentHash keeps a key (PickKey) on one instance: a ring of
	// virtual nodes, so that when an instance leaves, only its keys move.
	ConsistentHash Policy = "consistent_hash"
)

// Balancer spreads requests over a service's instances.
type Balancer struct {
	policy    Policy
	instances []*Instance
	next      atomic.Uint64
	outlier   Outlier

	// Weights (WithWeights); nil: all 1.
	weights []int
	// Smooth weighted round robin's current weights, under mu.
	mu      sync.Mutex
	current []int
	// ring is consistent_hash's: virtual nodes sorted by hash.
	ring []vnode
}

type vnode struct {
	hash uint64
	i    int // index in instances
}

// vnodesPerWeight is how many points an instance of weight 1 has on the
// ring.
const vnodesPerWeight = 160

// WithWeights sets the instances' weights (weights[i] is instances[i]'s,
// at least 1); call it before the balancer is used.
func (b *Balancer) WithWeights(weights []int) *Balancer {
	same := true
	for _, w := range weights {
		same = same && w == 1
	}
	if same || len(weights) != len(b.instances) {
		weights = nil
	}
	b.weights = weights
	b.current = make([]int, len(b.instances))
	if b.policy == ConsistentHash {
		b.buildRing()
	}
	return b
}

func (b *Balancer) weight(i int) int {
	if b.weights == nil {
		return 1
	}
	return b.weights[i]
}

func (b *Balancer) buildRing() {
	b.ring = b.ring[:0]
	for i, in := range b.instances {
		for v := range vnodesPerWeight * b.weight(i) {
			b.ring = append(b.ring, vnode{hash: hashKey(in.Address + "#" + strconv.Itoa(v)), i: i})
		}
	}
	slices.SortFunc(b.ring, func(x, y vnode) int { return cmp.Compare(x.hash, y.hash) })
}

// hashKey is FNV-1a of the key, then a mix so that keys that differ in
// their last bytes spread over the ring.
func hashKey(key string) uint64 {
	h := fnv.New64a()
	io.WriteString(h, key)
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	return x
}

// Outlier configures outlier ejection, Envoy's passive health: an
// instance whose real requests fail ConsecutiveFailures times in a row is
// out of the balancer for BaseEjectionTime × the times it was ejected (at
// most MaxEjectionTime), whatever its active probes say; never more than
// MaxEjectionPercent of the instances at once, though one may always be.
// ConsecutiveFailures 0 turns it off. The JSON names are the platform
// file's keys.
type Outlier struct {
	ConsecutiveFailures int           `json:"consecutive_failures"`
	BaseEjectionTime    time.Duration `json:"base_ejection_time"`
	MaxEjectionTime     time.Duration `json:"max_ejection_time"`
	MaxEjectionPercent  int           `json:"max_ejection_percent"`
}

// OutlierDefaults are the outlier ejection of a service that sets none:
// the one place they are written.
var OutlierDefaults = Outlier{ConsecutiveFailures: 5, BaseEjectionTime: 30 * time.Second,
	MaxEjectionTime: 300 * time.Second, MaxEjectionPercent: 50}

// WithOutlier sets the balancer's outlier ejection; call it before the
// balancer is used.
func (b *Balancer) WithOutlier(o Outlier) *Balancer {
	b.outlier = o
	return b
}

// Observe records the outcome of a real request to one of the
// balancer's instances, and ejects the instance when its failures in a
// row reach the threshold.
func (b *Balancer) Observe(in *Instance, failed bool) {
	o := b.outlier
	if o.ConsecutiveFailures <= 0 {
		return
	}
	if !failed {
		if in.failures.Load() != 0 {
			in.failures.Store(0)
		}
		return
	}
	if in.failures.Add(1) < int32(o.ConsecutiveFailures) {
		return
	}
	now := time.Now().UnixNano()
	if in.ejectedUntil.Load() > now {
		return // ejected already (requests that were under way)
	}
	ejected := 0
	for _, x := range b.instances {
		if x != in && x.ejectedUntil.Load() > now {
			ejected++
		}
	}
	if ejected > 0 && (ejected+1)*100 > o.MaxEjectionPercent*len(b.instances) {
		return // too many out already
	}
	n := in.ejections.Add(1)
	d := min(o.BaseEjectionTime*time.Duration(n), o.MaxEjectionTime)
	in.ejectedUntil.Store(now + int64(d))
	in.failures.Store(0)
}

// New returns a balancer; an empty policy is round robin.
func New(policy Policy, instances []*Instance) (*Balancer, error) {
	switch policy {
	case "":
		policy = RoundRobin
	case RoundRobin, LeastRequests, Random, ConsistentHash:
	default:
		return nil, fmt.Errorf("unknown load balancer %q (round_robin, least_requests, random, consistent_hash)", policy)
	}
	b := &Balancer{policy: policy, instances: instances, current: make([]int, len(instances))}
	if policy == ConsistentHash {
		b.buildRing()
	}
	return b, nil
}

// Instances returns the balancer's instances. The slice must not be changed.
func (b *Balancer) Instances() []*Instance { return b.instances }

// Pick chooses the instance for a request and counts it in flight: call
// its Done when the request is over. Only healthy instances are chosen;
// while none is, instances not probed yet are (so a platform serves before
// its first probes finish); unhealthy ones never are. Instances in tried
// are skipped (a retry goes to another instance). Pick returns nil when no
// instance qualifies.
func (b *Balancer) Pick(tried ...*Instance) *Instance { return b.PickKey("", tried...) }

// PickKey is Pick with the request's key, which consistent_hash follows
// (the other policies ignore it; so does consistent_hash for an empty
// key, which goes round robin).
func (b *Balancer) PickKey(key string, tried ...*Instance) *Instance {
	in := b.pick(Healthy, key, tried)
	if in == nil {
		in = b.pick(Unknown, key, tried)
	}
	if in != nil {
		in.inFlight.Add(1)
	}
	return in
}

// Done ends a request that Pick gave to the instance.
func (in *Instance) Done() { in.inFlight.Add(-1) }

func (b *Balancer) pick(want Health, key string, tried []*Instance) *Instance {
	var now int64 // read once, when an instance has been ejected
	ok := func(in *Instance) bool {
		if in.Health() != want {
			return false
		}
		if u := in.ejectedUntil.Load(); u != 0 {
			if now == 0 {
				now = time.Now().UnixNano()
			}
			if u > now {
				return false
			}
		}
		for _, t := range tried {
			if t == in {
				return false
			}
		}
		return true
	}
	n := len(b.instances)
	if n == 0 {
		return nil
	}
	switch {
	case b.policy == ConsistentHash && key != "" && len(b.ring) > 0:
		h := hashKey(key)
		at, _ := slices.BinarySearchFunc(b.ring, h, func(v vnode, h uint64) int { return cmp.Compare(v.hash, h) })
		for k := range len(b.ring) {
			if in := b.instances[b.ring[(at+k)%len(b.ring)].i]; ok(in) {
				return in
			}
		}
		return nil
	case b.policy == LeastRequests:
		// The power of two choices: two instances at random, the lesser
		// loaded for its weight.
		first := b.randomOK(ok, -1)
		if first < 0 {
			return nil
		}
		second := b.randomOK(ok, first)
		if second < 0 || b.instances[first].InFlight()*int64(b.weight(second)) <= b.instances[second].InFlight()*int64(b.weight(first)) {
			return b.instances[first]
		}
		return b.instances[second]
	case b.policy == Random:
		start := rand.IntN(n)
		for i := range n {
			if in := b.instances[(start+i)%n]; ok(in) {
				return in
			}
		}
	case b.weights != nil:
		// Smooth weighted round robin: every eligible instance gains its
		// weight, the highest is chosen and gives back the total.
		b.mu.Lock()
		defer b.mu.Unlock()
		best, total := -1, 0
		for i, in := range b.instances {
			if !ok(in) {
				continue
			}
			b.current[i] += b.weights[i]
			total += b.weights[i]
			if best < 0 || b.current[i] > b.current[best] {
				best = i
			}
		}
		if best < 0 {
			return nil
		}
		b.current[best] -= total
		return b.instances[best]
	default:
		// Each look takes the next turn, so the instances after a skipped
		// one do not get its share.
		for range n {
			if in := b.instances[b.next.Add(1)%uint64(n)]; ok(in) {
				return in
			}
		}
	}
	return nil
}

// randomOK returns the index of a random instance that ok accepts, other
// than not (-1: none).
func (b *Balancer) randomOK(ok func(*Instance) bool, not int) int {
	n := len(b.instances)
	start := rand.IntN(n)
	for k := range n {
		if i := (start + k) % n; i != not && ok(b.instances[i]) {
			return i
		}
	}
	return -1
}
