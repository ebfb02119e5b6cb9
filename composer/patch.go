package composer

import (
	"maps"
	"reflect"
	"slices"
	"sync/atomic"

	"github.com/tuskcompose/composer/internal/auth"
	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/tsk"
)

// A resolution is what the last Resolve of a file made, kept in the
// memo for the next one: with it, a load that changed a few services
// visits those (their settings, their breakers) and takes the rest of
// the maps as a copy, instead of making maps of every service and
// breaker again.
//
// Resolve writes a resolution and keeps it (under the memo table's lock);
// after that only Validate and Warnings of its own Resolved write to it,
// and only what they publish through clean and warned: routes and
// routesSplit are written before clean is stored, and the next load reads
// them only once it has loaded clean as true. The next load's Resolve may
// run beside them (two analyses of one document in the language server).
type resolution struct {
	inherited *inherited      // interned: the same pointer while what services inherit is the same
	defaults  *CircuitBreaker // interned [circuit_breaker] defaults (nil: breakers off)
	// order are the services in file order, as the section's members.
	order []serviceAt
	// index is a service's place in order.
	index map[string]int
	// health and breakerBlocks are the canonical values of the
	// per-service blocks of [health_checks] and [circuit_breaker].
	health, breakerBlocks map[string]*tsk.Value
	services              map[string]*ResolvedService
	breakers              map[string]breaker.Settings
	// refs counts, by breaker name, what asks for the breaker: a service
	// of its own (an http or process one), each call to it, a caller's
	// pair, an event route's deliveries; the breaker is there while one
	// does.
	refs map[string]int32
	// events are the event routes' breaker contributions.
	events []breakerRef
	// patched tells a resolution made from the last one; kept counts the
	// services taken from the last load or the memo, not resolved again.
	patched bool
	kept    int
	// changed are the places in order of the services that changed since
	// the last one, was what they were there (patched only).
	changed []int
	was     []serviceAt
	// auth are the [auth] policies; authSame tells the last one's were
	// the same (patched only).
	auth     map[string]auth.Settings
	authSame bool
	// lastClean tells that Validate found no problem in the resolution
	// this one was patched from; clean, in this one (set by Validate,
	// which may run beside the next load's Resolve).
	lastClean bool
	clean     atomic.Bool
	// warned are the places in order of the services that had warnings,
	// once Warnings ran (which may be beside the next load's Resolve);
	// lastWarned, the last one's when this one was patched from it.
	warned     atomic.Pointer[[]int]
	lastWarned *[]int
	// routes are the services' routes (route -> service), set by a
	// Validate without a problem; lastRoutes, the last one's when this one
	// was patched from it (nil: none).
	routes, lastRoutes map[string]string
	// routesSplit tells that every route is host-less and routed by its
	// first segment (set by Validate); lastRoutesSplit, the last one's.
	routesSplit, lastRoutesSplit bool
	// lastServices and lastBreakers are the maps of the resolution this
	// one was patched from; breakersPatched tells the breakers were too,
	// breakersChanged the breakers that came, went or were asked for
	// again (patched only: Diff compares only those, and the changed
	// services, with a platform that runs those maps).
	lastServices    map[string]*ResolvedService
	lastBreakers    map[string]breaker.Settings
	breakersPatched bool
	breakersChanged []string
	// registry are the services that discover their instances.
	registry []string
}

// serviceAt is a service as the last Resolve had it.
type serviceAt struct {
	name        string
	src, canon  *tsk.Value // its block, and what the block stands for
	health      *tsk.Value // canonical value of its [health_checks] block
	s           *Service
	rs          *ResolvedService
	builtinLike bool // resolved again at every load (a built-in)
}

// breakerRef is one contribution to a breaker: its name and the target
// whose settings it has.
type breakerRef struct{ name, target string }

// breakerRefs are the breakers service name asks for.
func breakerRefs(name string, s *Service, rs *ResolvedService, out []breakerRef) []breakerRef {
	for i, target := range rs.Calls {
		out = append(out, breakerRef{rs.pairs[i], target})
	}
	if s.Kind == "http" || s.Kind == "process" {
		out = append(out, breakerRef{name, name})
	}
	for _, target := range s.Calls {
		out = append(out, breakerRef{target, target})
	}
	return out
}

// lastResolution is the memo's resolution of the file doc starts at (nil:
// none).
func lastResolution(memo *tsk.Memo, doc *tsk.Document) *resolution {
	if memo == nil || doc == nil || len(doc.Files) == 0 {
		return nil
	}
	last, _ := tsk.TableOf[string, *resolution](memo, "composer.last").Get(doc.Files[0])
	return last
}

// keepResolution keeps what Resolve made of r for the next load of the
// same file.
func keepResolution(r *Resolved, res *resolution) {
	if memo := r.memo(); memo != nil && len(r.doc.Files) > 0 {
		tsk.TableOf[string, *resolution](memo, "composer.last").Put(r.doc.Files[0], res)
	}
}

// blockValues are the canonical values of a section's per-service
// blocks, by name.
func blockValues[T any](r *Resolved, section Source, blocks map[string]T) map[string]*tsk.Value {
	out := make(map[string]*tsk.Value, len(blocks))
	for name := range blocks {
		out[name] = r.canonical(sourceOf(section, name).Value())
	}
	return out
}

// patchServices resolves r's services from last when the services are
// those of the last load, in the same order, and what they inherit is the
// same: a service whose block stands for the same content is the last
// load's (moved to where its block is now); the others are resolved. It
// fills res's order and index, and returns the places of the services
// that changed (built-ins among them); false (r and res untouched) when
// last does not apply.
func patchServices(r *Resolved, res, last *resolution, members []tsk.Member) ([]int, bool) {
	p, from := r.Platform, res.inherited
	if last == nil || last.order == nil || last.inherited != from || from == nil || len(members) != len(last.order) || len(p.Services) != len(members) ||
		!maps.EqualFunc(res.health, last.health, func(a, b *tsk.Value) bool { return a == b && a != nil }) {
		return nil, false
	}
	for i, m := range members {
		if m.Key != last.order[i].name || p.Services[m.Key] == nil {
			return nil, false
		}
	}
	table := tsk.TableOf[serviceKey, *ResolvedService](r.memo(), "composer.resolve")
	services := r.Src.Key("services")
	r.Services = maps.Clone(last.services)
	order := slices.Clone(last.order)
	var changed []int
	for i, m := range members {
		at := &order[i]
		s, canon := p.Services[m.Key], r.canonical(m.Value)
		if s == at.s && canon == at.canon && !at.builtinLike {
			if m.Value != at.src {
				at.src, at.rs = m.Value, at.rs.writtenAt(Source{m.Value})
				r.Services[m.Key] = at.rs
			}
			continue
		}
		changed = append(changed, i)
		res.was = append(res.was, *at)
		rs, kept := resolveOne(r, table, services, m.Key, s, canon, res.health[m.Key], from)
		r.Services[m.Key] = rs
		if kept {
			res.kept++
		}
		*at = serviceAt{name: m.Key, src: m.Value, canon: canon, health: res.health[m.Key], s: s, rs: rs, builtinLike: s.Kind == "builtin"}
	}
	res.order, res.index, res.patched, res.changed = order, last.index, true, changed
	res.lastServices = last.services
	res.lastClean, res.authSame, res.lastWarned = last.clean.Load(), reflect.DeepEqual(res.auth, last.auth), last.warned.Load()
	if res.lastClean {
		res.lastRoutes, res.lastRoutesSplit = last.routes, last.routesSplit
	}
	res.kept += len(members) - len(changed)
	return changed, true
}

// resolveOne resolves service name, from the memo's table when it made
// the same service from the same values (kept).
func resolveOne(r *Resolved, table *tsk.Table[serviceKey, *ResolvedService], services Source, name string, s *Service, canon, health *tsk.Value, from *inherited) (rs *ResolvedService, kept bool) {
	p, root := r.Platform, r.Src
	base := from.base
	if table == nil || s.Kind == "builtin" {
		return resolveService(p, root, services, base, name, s), false
	}
	src := sourceOf(services, name)
	k := serviceKey{name: name, s: s, src: canon, health: health, inherited: from}
	if _, ok := p.HealthChecks.PerService[name]; ok && k.health == nil {
		return resolveService(p, root, services, base, name, s), false // not read from a file
	}
	rs, ok := table.Get(k)
	if !ok {
		rs = resolveService(p, root, services, base, name, s)
		rs.origin = rs
		table.Put(k, rs)
	}
	return rs.writtenAt(src), ok
}

// writtenAt is rs written at src: rs itself, or, when its text moved, a
// copy with the same settings where it is now.
func (rs *ResolvedService) writtenAt(src Source) *ResolvedService {
	if rs.Src == src {
		return rs
	}
	moved := *rs
	moved.Src = src
	return &moved
}

// patchBreakers makes r's breakers from last's when their settings are
// the same (the section's defaults and its per-target blocks): the
// breakers the changed services (places in order) asked for go unless
// something else asks for them, those they ask for now come, and the
// event routes' are made again. It reports false (r untouched) when last
// does not apply.
func patchBreakers(r *Resolved, res, last *resolution, changed []int, settings func(string) breaker.Settings) (map[string]int32, bool) {
	order, defaults, blocks, events := res.order, res.defaults, res.breakerBlocks, res.events
	if last.defaults != defaults || defaults == nil || last.refs == nil ||
		!maps.EqualFunc(blocks, last.breakerBlocks, func(a, b *tsk.Value) bool { return a == b && a != nil }) {
		return nil, false
	}
	refs := maps.Clone(last.refs)
	r.Breakers = maps.Clone(last.breakers)
	drop := func(ref breakerRef) {
		res.breakersChanged = append(res.breakersChanged, ref.name)
		if refs[ref.name]--; refs[ref.name] <= 0 {
			delete(refs, ref.name)
			delete(r.Breakers, ref.name)
		}
	}
	add := func(ref breakerRef) {
		res.breakersChanged = append(res.breakersChanged, ref.name)
		refs[ref.name]++
		r.Breakers[ref.name] = settings(ref.target)
	}
	var scratch []breakerRef
	for _, ref := range last.events {
		drop(ref)
	}
	for _, i := range changed {
		was := last.order[i]
		scratch = breakerRefs(was.name, was.s, was.rs, scratch[:0])
		for _, ref := range scratch {
			drop(ref)
		}
	}
	for _, i := range changed {
		now := order[i]
		scratch = breakerRefs(now.name, now.s, now.rs, scratch[:0])
		for _, ref := range scratch {
			add(ref)
		}
	}
	for _, ref := range events {
		add(ref)
	}
	res.lastBreakers, res.breakersPatched = last.breakers, true
	return refs, true
}

// sameMap reports whether a and b are the same map (not two equal ones).
func sameMap[K comparable, V any](a, b map[K]V) bool {
	return a != nil && reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// changedSince returns, for Diff, the services and breakers that may
// differ between cur and next when next was patched from the resolution
// whose maps cur runs; false when that is not known (every component is
// to be compared).
func changedSince(cur, next *Resolved) (services, breakers []string, ok bool) {
	res := next.res
	if res == nil || !res.patched || !res.breakersPatched || !sameMap(cur.Services, res.lastServices) || !sameMap(cur.Breakers, res.lastBreakers) {
		return nil, nil, false
	}
	return changedNames(next, res.changed), res.breakersChanged, true
}

// changedSinceClean returns, for Validate, the places of the services
// that changed since a resolution that had no problem, and whether their
// routes changed; false when every service is to be checked: res is not
// patched from a clean one (or is nil: r was not made by Resolve, or was
// changed since), or a service changed its kind or dependencies (what
// others are checked against).
func (res *resolution) changedSinceClean() (changed []int, routesChanged, ok bool) {
	if res == nil || !res.patched || !res.lastClean {
		return nil, false, false
	}
	for j, i := range res.changed {
		was, now := res.was[j].s, res.order[i].s
		if was.Kind != now.Kind || !slices.Equal(was.DependsOn, now.DependsOn) {
			return nil, false, false
		}
		routesChanged = routesChanged || !slices.Equal(was.Routes, now.Routes)
	}
	return res.changed, routesChanged, true
}

// changedNames are the names of the services at places changed.
func changedNames(r *Resolved, changed []int) []string {
	names := make([]string, len(changed))
	for j, i := range changed {
		names[j] = r.res.order[i].name
	}
	return names
}

// toWarnAbout returns, for Warnings, the places of the services that can
// have warnings of their own: those that changed since the last
// resolution and those that had warnings there, in file order; false
// when every service is to be looked at (res is nil, not patched, or
// Warnings did not run on the last one).
func (res *resolution) toWarnAbout() ([]int, bool) {
	if res == nil || !res.patched || res.lastWarned == nil {
		return nil, false
	}
	places := slices.Concat(res.changed, *res.lastWarned)
	slices.Sort(places)
	return slices.Compact(places), true
}
