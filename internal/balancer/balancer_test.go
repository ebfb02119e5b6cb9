package balancer

import (
	"sync"
	"testing"
)

func instances(n int, h Health) []*Instance {
	out := make([]*Instance, n)
	for i := range out {
		out[i] = NewInstance("http://127.0.0.1:" + string(rune('1'+i)))
		out[i].SetHealth(h)
	}
	return out
}

func TestRoundRobinSkipsUnhealthy(t *testing.T) {
	ins := instances(3, Healthy)
	ins[1].SetHealth(Unhealthy)
	b, _ := New(RoundRobin, ins)
	counts := map[*Instance]int{}
	for range 100 {
		in := b.Pick()
		counts[in]++
		in.Done()
	}
	if counts[ins[1]] != 0 || counts[ins[0]] != 50 || counts[ins[2]] != 50 {
		t.Errorf("picks %d %d %d, want 50 0 50", counts[ins[0]], counts[ins[1]], counts[ins[2]])
	}
}

func TestUnknownOnlyWhenNoneHealthy(t *testing.T) {
	ins := instances(2, Unknown)
	b, _ := New(RoundRobin, ins)
	if b.Pick() == nil {
		t.Fatal("no instance picked before the first probes")
	}
	ins[1].SetHealth(Healthy)
	for range 10 {
		if in := b.Pick(); in != ins[1] {
			t.Fatalf("picked %s, want the healthy one", in.Address)
		}
	}
	ins[0].SetHealth(Unhealthy)
	ins[1].SetHealth(Unhealthy)
	if in := b.Pick(); in != nil {
		t.Errorf("picked %s among unhealthy instances", in.Address)
	}
}

func TestRetryGoesElsewhere(t *testing.T) {
	for _, p := range []Policy{RoundRobin, LeastRequests, Random} {
		ins := instances(2, Healthy)
		b, _ := New(p, ins)
		first := b.Pick()
		second := b.Pick(first)
		if second == nil || second == first {
			t.Errorf("%s: retry picked %v after %v", p, second, first)
		}
		if third := b.Pick(first, second); third != nil {
			t.Errorf("%s: picked %s with every instance tried", p, third.Address)
		}
	}
}

func TestLeastRequests(t *testing.T) {
	ins := instances(3, Healthy)
	b, _ := New(LeastRequests, ins)
	busy := b.Pick()
	busy2 := b.Pick()
	if busy == busy2 {
		t.Fatal("two requests on one instance while others were idle")
	}
	third := b.Pick()
	if third == busy || third == busy2 {
		t.Fatal("the idle instance was not chosen")
	}
	busy.Done()
	if in := b.Pick(); in != busy {
		t.Errorf("picked %s, want the one that finished", in.Address)
	}
}

func TestRandomSpreads(t *testing.T) {
	ins := instances(4, Healthy)
	b, _ := New(Random, ins)
	seen := map[*Instance]bool{}
	for range 200 {
		in := b.Pick()
		seen[in] = true
		in.Done()
	}
	if len(seen) != 4 {
		t.Errorf("random used %d of 4 instances in 200 picks", len(seen))
	}
}

func TestUnknownPolicy(t *testing.T) {
	if _, err := New("round-robin", nil); err == nil {
		t.Error("no error for an unknown policy")
	}
	if b, err := New("", nil); err != nil || b.Pick() != nil {
		t.Error("an empty balancer picked something")
	}
}

func TestConcurrentPicks(t *testing.T) {
	ins := instances(3, Healthy)
	b, _ := New(LeastRequests, ins)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				b.Pick().Done()
			}
		}()
	}
	wg.Wait()
	for _, in := range ins {
		if in.InFlight() != 0 {
			t.Errorf("%s has %d in flight after all requests ended", in.Address, in.InFlight())
		}
	}
}

func BenchmarkPick(b *testing.B) {
	for _, p := range []Policy{RoundRobin, LeastRequests, Random} {
		bal, _ := New(p, instances(4, Healthy))
		b.Run(string(p), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bal.Pick().Done()
			}
		})
	}
}
