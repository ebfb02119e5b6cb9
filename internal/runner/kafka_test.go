package runner

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/testport"

	"github.com/twmb/franz-go/pkg/kfake"
)

// kafkaSection is an [events] section for a Kafka bus at addrs.
func kafkaSection(addrs []string, more string) string {
	quoted := make([]string, len(addrs))
	for i, a := range addrs {
		quoted[i] = fmt.Sprintf("%q", a)
	}
	return fmt.Sprintf("\n[events]\nbus: \"kafka\"\nbrokers: [%s]\nlinger: \"1ms\"\nretry { backoff: \"10ms\" }\n%s\n", strings.Join(quoted, ", "), more)
}

// kafkaCluster starts an in-process Kafka-protocol broker (kfake) on
// loopback, closed after the test's platforms have stopped.
func kafkaCluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func busState(t *testing.T, admin string) BusState {
	t.Helper()
	_, body := call(t, "GET", admin+"/v1/status", "")
	var st Status
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("status %s: %v", body, err)
	}
	return st.Bus
}

func TestKafkaPlatform(t *testing.T) {
	c := kafkaCluster(t)
	var mu sync.Mutex
	var hooked []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ce map[string]any
		json.NewDecoder(r.Body).Decode(&ce)
		mu.Lock()
		hooked = append(hooked, fmt.Sprint(ce["subject"]))
		mu.Unlock()
	}))
	defer hook.Close()
	p := startPlatform(t, fmt.Sprintf(`big_orders { topic: "order.created", filter: "data.total_amount > 100", to: [%q] }
`, hook.URL)+kafkaSection(c.ListenAddrs(), ""))
	gw, admin := "http://"+p.r.GatewayAddr(), "http://"+p.r.AdminAddr()

	user := createUser(t, gw, "ada")
	var bigOrder string
	for _, price := range []int{50, 150} {
		status, body := call(t, "POST", gw+"/orders", fmt.Sprintf(`{"user_id":%d,"items":[{"product_id":"a","quantity":1,"price":%d}]}`, user, price))
		if status != 201 {
			t.Fatalf("create order: %d %s", status, body)
		}
		bigOrder = fmt.Sprint(idOf(t, body))
	}
	eventually(t, "a welcome and two order confirmations, through Kafka", func() bool {
		_, body := call(t, "GET", gw+"/notifications", "")
		return strings.Count(body, `"kind"`) == 3
	})
	eventually(t, "the big order at the filtered route's hook", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(hooked) == 1 && hooked[0] == bigOrder
	})
	// The event store is projected from the topics.
	eventually(t, "the event store", func() bool {
		_, evs := call(t, "GET", admin+"/v1/events?type=order.created", "")
		return strings.Count(evs, `"type": "order.created"`) == 2
	})
	if st := busState(t, admin); st.Kind != "kafka" || st.State != "ok" {
		t.Errorf("bus state %+v", st)
	}
	if lag, ok := scrape(t, admin)[`composer_kafka_consumer_lag{group="shop.welcome"}`]; !ok || lag != "0" {
		t.Errorf("the welcome route's consumer lag: %q (%v)", lag, ok)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(hooked) != 1 {
		t.Errorf("the filtered route delivered %v", hooked)
	}
}

// freePort returns a loopback port nobody listens on (for a broker that
// must come back at the same address).
func freePort(t *testing.T) int { return testport.Free(t) }

func TestKafkaBrokersDownThenBack(t *testing.T) {
	dir, port := t.TempDir(), freePort(t)
	start := func() *kfake.Cluster {
		c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(port), kfake.DataDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c := start()
	p := startPlatform(t, kafkaSection(c.ListenAddrs(), ""))
	gw, admin := "http://"+p.r.GatewayAddr(), "http://"+p.r.AdminAddr()
	user := createUser(t, gw, "ada")
	eventually(t, "the welcome", func() bool {
		_, body := call(t, "GET", gw+"/notifications", "")
		return strings.Count(body, `"kind"`) == 1
	})

	c.Close()
	deadline := time.Now().Add(15 * time.Second)
	for busState(t, admin).State != "degraded" {
		if time.Now().After(deadline) {
			t.Fatalf("the bus is still %+v with the brokers down", busState(t, admin))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// HTTP goes on; the orders' events wait in the outbox.
	for i := 0; i < 3; i++ {
		if status, body := call(t, "POST", gw+"/orders", fmt.Sprintf(`{"user_id":%d,"items":[{"product_id":"a","quantity":1,"price":10}]}`, user)); status != 201 {
			t.Fatalf("create order with the brokers down: %d %s", status, body)
		}
	}
	if _, body := call(t, "GET", admin+"/readyz", ""); !strings.Contains(body, `"degraded"`) {
		t.Errorf("readyz with the brokers down: %s", body)
	}

	c = start()
	defer c.Close()
	deadline = time.Now().Add(30 * time.Second)
	for {
		_, body := call(t, "GET", gw+"/notifications", "")
		if strings.Count(body, `"kind"`) == 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the brokers came back: %s", body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	eventually(t, "the bus back to ok", func() bool { return busState(t, admin).State == "ok" })
}

// createUser creates a user through the gateway and returns its id.
func createUser(t *testing.T, gw, name string) uint64 {
	t.Helper()
	status, body := call(t, "POST", gw+"/users", fmt.Sprintf(`{"username":%q,"email":"%s@example.com","password":"correct horse"}`, name, name))
	if status != 201 {
		t.Fatalf("create user %s: %d %s", name, status, body)
	}
	return idOf(t, body)
}

func idOf(t *testing.T, body string) uint64 {
	t.Helper()
	var v struct{ ID uint64 }
	if err := json.Unmarshal([]byte(body), &v); err != nil || v.ID == 0 {
		t.Fatalf("no id in %s", body)
	}
	return v.ID
}

// TestKafkaInstancesShareUsersAndOrders: two instances of one platform on
// one cluster. Each instance's users and orders are projections of the
// events, so what one creates the other reads a moment later, and ids
// never collide.
func TestKafkaInstancesShareUsersAndOrders(t *testing.T) {
	c := kafkaCluster(t)
	a := startPlatform(t, kafkaSection(c.ListenAddrs(), ""))
	b := startPlatform(t, kafkaSection(c.ListenAddrs(), ""))
	gwA, gwB := "http://"+a.r.GatewayAddr(), "http://"+b.r.GatewayAddr()

	ada, grace := createUser(t, gwA, "ada"), createUser(t, gwB, "grace")
	if ada == grace {
		t.Fatalf("both instances gave id %d", ada)
	}
	for _, gw := range []string{gwA, gwB} {
		for _, id := range []uint64{ada, grace} {
			eventually(t, fmt.Sprintf("user %d at %s", id, gw), func() bool {
				status, _ := call(t, "GET", fmt.Sprintf("%s/users/%d", gw, id), "")
				return status == 200
			})
		}
	}
	// A name taken on one instance is taken on the other.
	if status, body := call(t, "POST", gwB+"/users", `{"username":"ada","email":"other@example.com","password":"correct horse"}`); status != 409 {
		t.Errorf("ada again, at the other instance: %d %s", status, body)
	}
	// An order for A's user, through B; its status changed through A.
	status, body := call(t, "POST", gwB+"/orders", fmt.Sprintf(`{"user_id":%d,"items":[{"product_id":"a","quantity":1,"price":10}]}`, ada))
	if status != 201 {
		t.Fatalf("order through the other instance: %d %s", status, body)
	}
	order := idOf(t, body)
	eventually(t, "the order at A", func() bool {
		status, _ := call(t, "GET", fmt.Sprintf("%s/orders/%d", gwA, order), "")
		return status == 200
	})
	if status, body := call(t, "PUT", fmt.Sprintf("%s/orders/%d/status", gwA, order), `{"status":"Confirmed"}`); status != 200 {
		t.Fatalf("status through A: %d %s", status, body)
	}
	eventually(t, "the new status at B", func() bool {
		_, body := call(t, "GET", fmt.Sprintf("%s/orders/%d", gwB, order), "")
		return strings.Contains(body, `"status":"Confirmed"`)
	})
}

// TestKafkaReloadKeepsUnchangedConsumers: an edit of one route's filter
// restarts that route's consumer only.
func TestKafkaReloadKeepsUnchangedConsumers(t *testing.T) {
	c := kafkaCluster(t)
	var mu sync.Mutex
	var hooked []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ce struct {
			Data struct {
				TotalAmount float64 `json:"total_amount"`
			}
		}
		json.NewDecoder(r.Body).Decode(&ce)
		mu.Lock()
		hooked = append(hooked, fmt.Sprint(ce.Data.TotalAmount))
		mu.Unlock()
	}))
	defer hook.Close()
	routes := func(limit int) string {
		return fmt.Sprintf(`big_orders { topic: "order.created", filter: "data.total_amount > %d", to: [%q] }
`, limit, hook.URL) + kafkaSection(c.ListenAddrs(), "")
	}
	p := startPlatform(t, routes(100))
	gw := "http://" + p.r.GatewayAddr()
	user := createUser(t, gw, "ada")
	order := func(price int) {
		if status, body := call(t, "POST", gw+"/orders", fmt.Sprintf(`{"user_id":%d,"items":[{"product_id":"a","quantity":1,"price":%d}]}`, user, price)); status != 201 {
			t.Fatalf("order: %d %s", status, body)
		}
	}
	order(150)
	eventually(t, "the first big order", func() bool { mu.Lock(); defer mu.Unlock(); return len(hooked) == 1 })

	before := p.r.gen()
	p.rewrite(t, routes(10))
	if res := p.r.Reload(); !res.OK || !res.Changed {
		t.Fatalf("reload: %+v", res)
	}
	after := p.r.gen()
	for _, name := range []string{"welcome", "order_confirmation"} {
		if before.routes[name] != after.routes[name] {
			t.Errorf("route %s was restarted by an edit of another route", name)
		}
	}
	if before.routes["big_orders"] == after.routes["big_orders"] {
		t.Error("the edited route kept its old consumer")
	}
	order(50) // big enough for the new filter only
	eventually(t, "the order the new filter lets through", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(hooked, "50")
	})
	// The old consumer committed the first order before the new one
	// joined the group: it is not delivered again.
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(hooked, []string{"150", "50"}) {
		t.Errorf("delivered %q, want the first order once and then the second", hooked)
	}
}
