package runner

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// TestOrderVersions: GET /orders/:id answers the order's version as its
// ETag; a status change with If-Match of an older version answers 412 and
// changes nothing; of two clients racing with the same version one wins;
// the order's events carry their aggregate and versions 1, 2, ... and
// /v1/events?aggregate= answers them in order, apart from the user of the
// same id.
func TestOrderVersions(t *testing.T) {
	p := startPlatform(t, "")
	gw, admin := "http://"+p.r.GatewayAddr(), "http://"+p.r.AdminAddr()
	uid := createUser(t, gw, "ada")
	status, body := call(t, "POST", gw+"/orders", fmt.Sprintf(`{"user_id":%d,"items":[{"product_id":"a","quantity":1,"price":3}]}`, uid))
	if status != 201 {
		t.Fatalf("order: %d %s", status, body)
	}
	order := idOf(t, body)
	url := fmt.Sprintf("%s/orders/%d", gw, order)
	put := func(status, ifMatch string) (*http.Response, string) {
		req, _ := http.NewRequest("PUT", url+"/status", strings.NewReader(fmt.Sprintf(`{"status":%q}`, status)))
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp, b.String()
	}
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("ETag") != `"1"` {
		t.Fatalf("a new order's ETag: %q", resp.Header.Get("ETag"))
	}
	if r, b := put("Confirmed", `"1"`); r.StatusCode != 200 || r.Header.Get("ETag") != `"2"` {
		t.Fatalf("Confirmed at version 1: %d %s %q", r.StatusCode, b, r.Header.Get("ETag"))
	}
	if r, b := put("Cancelled", `"1"`); r.StatusCode != 412 || !strings.Contains(b, "version 2, not 1") {
		t.Errorf("Cancelled at the stale version 1: %d %s", r.StatusCode, b)
	}
	if _, b := call(t, "GET", url, ""); !strings.Contains(b, `"status":"Confirmed"`) {
		t.Errorf("after the refused change: %s", b)
	}
	// Two clients race with the version both read: one wins.
	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i, next := range []string{"Shipped", "Cancelled"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, _ := put(next, `"2"`)
			codes[i] = r.StatusCode
		}()
	}
	wg.Wait()
	if !(codes[0] == 200 && codes[1] == 412 || codes[0] == 412 && codes[1] == 200) {
		t.Errorf("the racing clients: %v, want one 200 and one 412", codes)
	}
	eventually(t, "the order's events in the store", func() bool {
		_, b := call(t, "GET", fmt.Sprintf("%s/v1/events?aggregate=order/%d", admin, order), "")
		return strings.Count(b, `"aggregatetype": "order"`) == 3
	})
	_, b := call(t, "GET", fmt.Sprintf("%s/v1/events?aggregate=order/%d", admin, order), "")
	var evs []struct {
		Type             string `json:"type"`
		AggregateVersion uint64 `json:"aggregateversion"`
	}
	if err := json.Unmarshal([]byte(b), &evs); err != nil {
		t.Fatal(err)
	}
	for i, e := range evs {
		if e.AggregateVersion != uint64(i+1) {
			t.Errorf("event %d of the order: %+v", i, e)
		}
	}
	if _, b := call(t, "GET", fmt.Sprintf("%s/v1/events?aggregate=user/%d", admin, uid), ""); strings.Count(b, `"type": "user.created"`) != 1 || strings.Contains(b, "order.") {
		t.Errorf("user %d's events: %s", uid, b)
	}
	// The order's data schema: v2, with its currency (EUR by default).
	if !strings.Contains(b, `"dataschema": "/schemas/order.created/v2"`) || !strings.Contains(b, `"currency": "EUR"`) {
		t.Errorf("the order.created event: %s", b)
	}
	if status, b := call(t, "POST", gw+"/orders", fmt.Sprintf(`{"user_id":%d,"currency":"USD","items":[{"product_id":"a","quantity":1,"price":3}]}`, uid)); status != 201 || !strings.Contains(b, `"currency":"USD"`) {
		t.Errorf("an order in USD: %d %s", status, b)
	}
	if status, b := call(t, "POST", gw+"/orders", fmt.Sprintf(`{"user_id":%d,"currency":"euro","items":[{"product_id":"a","quantity":1,"price":3}]}`, uid)); status != 400 || !strings.Contains(b, "currency") {
		t.Errorf("a currency that is not one: %d %s", status, b)
	}
}
