package gateway

import (
	"bytes"
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"
)

// RetryDefaults are the retry settings of a service that sets none: the
// one place they are written (the platform's keys default to these).
var RetryDefaults = Retry{
	Backoff: 25 * time.Millisecond, MaxBackoff: 250 * time.Millisecond,
	BudgetRatio: 0.2, BudgetMinPerSecond: 10, BodyLimit: 64 << 10,
}

// Retry is how a service's failed tries are tried again.
// The JSON names are the platform file's keys.
type Retry struct {
	// Backoff is the base of the wait before a retry: the n-th waits a
	// random time up to Backoff × 2^(n-1) (full jitter), at most
	// MaxBackoff. A Retry-After of a 503 or 429 answer is waited instead,
	// up to MaxBackoff; a gRPC answer's grpc-retry-pushback-ms too (one
	// longer than MaxBackoff is not retried).
	Backoff    time.Duration `json:"retry_backoff"`
	MaxBackoff time.Duration `json:"max_retry_backoff"`
	// The budget: retries over the last 10 s stay under BudgetRatio × the
	// requests plus BudgetMinPerSecond a second, so that retries never
	// multiply an outage.
	BudgetRatio        float64 `json:"retry_budget_ratio"`
	BudgetMinPerSecond int     `json:"retry_budget_min_per_second"`
	// BodyLimit is the largest request body kept to be sent again; a
	// request with a larger one is not retried.
	BodyLimit int64 `json:"retry_body_limit"`
}

// wait is the wait before retry n (from 1), given the answer that
// failed (nil for a transport error).
func (r Retry) wait(n int, failed *http.Response) time.Duration {
	if failed != nil {
		if d, ok := pushback(failed); ok { // a gRPC server's grpc-retry-pushback-ms
			return d
		}
	}
	if failed != nil && (failed.StatusCode == http.StatusServiceUnavailable || failed.StatusCode == http.StatusTooManyRequests) {
		if s, err := strconv.Atoi(failed.Header.Get("Retry-After")); err == nil && s >= 0 {
			return min(time.Duration(s)*time.Second, r.MaxBackoff)
		}
	}
	if r.Backoff <= 0 {
		return 0
	}
	ceiling := r.Backoff << min(n-1, 30)
	if ceiling <= 0 || ceiling > r.MaxBackoff {
		ceiling = r.MaxBackoff
	}
	if ceiling <= 0 {
		return 0
	}
	return rand.N(ceiling + 1)
}

// budgetWindow is the budget's window, in one-second buckets.
const budgetWindow = 10

// Budget counts a service's requests and retries over the last 10
// seconds, for its retry budget; the zero value is ready. Safe for
// concurrent use; approximate at bucket boundaries (a bucket is reset by
// the first request of its second).
type Budget struct {
	buckets [budgetWindow]struct {
		sec               atomic.Int64
		requests, retries atomic.Int64
	}
}

func (b *Budget) bucket(now int64) int {
	i := int(now % budgetWindow)
	bk := &b.buckets[i]
	if old := bk.sec.Load(); old != now && bk.sec.CompareAndSwap(old, now) {
		bk.requests.Store(0)
		bk.retries.Store(0)
	}
	return i
}

// request counts a request.
func (b *Budget) request() {
	now := time.Now().Unix()
	b.buckets[b.bucket(now)].requests.Add(1)
}

// retry takes a retry from the budget, if the budget has one.
func (b *Budget) retry(r Retry) bool {
	now := time.Now().Unix()
	var requests, retries int64
	for i := range b.buckets {
		bk := &b.buckets[i]
		if now-bk.sec.Load() < budgetWindow {
			requests += bk.requests.Load()
			retries += bk.retries.Load()
		}
	}
	if float64(retries) >= r.BudgetRatio*float64(requests)+float64(r.BudgetMinPerSecond*budgetWindow) {
		return false
	}
	b.buckets[b.bucket(now)].retries.Add(1)
	return true
}

// replayable makes the request's body one that can be sent again, when
// it is at most limit bytes: it reads it into memory and sets GetBody.
// It reports whether the request can be retried.
func replayable(req *http.Request, limit int64) bool {
	if req.Body == nil || req.Body == http.NoBody || req.GetBody != nil {
		return true
	}
	if req.ContentLength > limit {
		return false
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, limit+1))
	if int64(len(buf)) > limit || err != nil {
		// Too large (or unreadable): send what was read and the rest,
		// once.
		req.Body = readCloser{io.MultiReader(bytes.NewReader(buf), req.Body), req.Body}
		return false
	}
	req.Body.Close()
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	req.Body, _ = req.GetBody()
	req.ContentLength = int64(len(buf))
	return true
}

type readCloser struct {
	io.Reader
	io.Closer
}

// kept is a failed answer held while the request is tried again: the
// client gets it if no later try answers. Its body is read into memory
// (up to keptLimit; a failed answer with a larger body is returned at
// once, without retry).
type kept struct {
	resp *http.Response
	body []byte
}

const keptLimit = 64 << 10

// keep reads a failed answer's body; it returns false (and leaves the
// answer whole) when the body is larger than keptLimit.
func keep(resp *http.Response) (*kept, bool) {
	answerHeader(resp) // (before its body, which holds its lines, is replaced)
	buf, err := io.ReadAll(io.LimitReader(resp.Body, keptLimit+1))
	if len(buf) > keptLimit || err != nil {
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(buf), resp.Body), resp.Body}
		return nil, false
	}
	resp.Body.Close()
	return &kept{resp: resp, body: buf}, true
}

// answer is the kept answer, whole again.
func (k *kept) answer() *http.Response {
	k.resp.Body = io.NopCloser(bytes.NewReader(k.body))
	k.resp.ContentLength = int64(len(k.body))
	return k.resp
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
