package runner

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tuskcompose/composer/internal/store"
)

// TestMigrateReleaseData: a data directory of one shared file, as the
// release before per-service stores wrote it (testdata/release-data), is
// moved at the first start into a store per built-in service, losing
// nothing: the users, the orders with their versions, the notifications,
// the events, the id sequences and the password hashes.
func TestMigrateReleaseData(t *testing.T) {
	dir := t.TempDir()
	old, err := os.ReadFile("testdata/release-data/composer.db")
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "data"), 0o755)
	if err := os.WriteFile(filepath.Join(dir, "data", "composer.db"), old, 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "platform.tsk")
	os.WriteFile(file, []byte(platform(dir, "")), 0o644)
	r := startFile(t, file)
	gw, admin := "http://"+r.GatewayAddr(), "http://"+r.AdminAddr()

	for path, want := range map[string]string{
		"/users/1":  `"username":"ada"`,
		"/users/2":  `"email":"grace@example.com"`,
		"/orders/1": `"status":"Confirmed"`,
		"/orders/2": `"currency":"USD"`,
	} {
		if status, body := call(t, "GET", gw+path, ""); status != 200 || !strings.Contains(body, want) {
			t.Errorf("GET %s after the migration: %d %s", path, status, body)
		}
	}
	if _, body := call(t, "GET", gw+"/orders/1", ""); !strings.Contains(body, `"version":2`) {
		t.Errorf("order 1's version: %s", body)
	}
	var notes []map[string]any
	_, body := call(t, "GET", gw+"/notifications", "")
	if json.Unmarshal([]byte(body), &notes); len(notes) != 4 {
		t.Errorf("%d notifications after the migration, want the 4 sent before: %s", len(notes), body)
	}
	var evs []map[string]any
	_, body = call(t, "GET", admin+"/v1/events", "")
	if json.Unmarshal([]byte(body), &evs); len(evs) != 5 {
		t.Errorf("%d events, want 5", len(evs))
	}
	// The sequences moved: new ids follow on; the version of order 1 too.
	if status, body := call(t, "POST", gw+"/users", `{"username":"hopper","email":"hopper@example.com","password":"secret123"}`); status != 201 || idOf(t, body) != 3 {
		t.Errorf("a new user: %d %s", status, body)
	}
	if status, body := call(t, "POST", gw+"/users", `{"username":"ada","email":"other@example.com","password":"secret123"}`); status != 409 {
		t.Errorf("ada again: %d %s (the name index not moved)", status, body)
	}
	if status, body := call(t, "PUT", gw+"/orders/1/status", `{"status":"Shipped"}`); status != 200 || !strings.Contains(body, `"version":3`) {
		t.Errorf("order 1 shipped: %d %s", status, body)
	}
	eventually(t, "the welcome to hopper", func() bool {
		_, body := call(t, "GET", gw+"/notifications", "")
		return strings.Contains(body, "hopper@example.com")
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// The shared file keeps the platform's own; each service has its own.
	data := filepath.Join(dir, "data")
	shared := openStore(t, filepath.Join(data, "composer.db"))
	for _, kind := range []string{"users", "orders", "notifications", "credentials"} {
		n := 0
		shared.List(kind, func(uint64, []byte) error { n++; return nil })
		if n != 0 {
			t.Errorf("%d %s left in composer.db", n, kind)
		}
	}
	shared.Close()
	users := openStore(t, filepath.Join(data, "users.db"))
	var c struct {
		PasswordHash []byte `json:"password_hash"`
	}
	if found, _ := users.Get("credentials", 1, &c); !found || len(c.PasswordHash) == 0 {
		t.Error("ada's password hash was not kept")
	}
	var u map[string]any
	if users.Get("users", 1, &u); u["password_hash"] != nil {
		t.Error("the hash is still in the user entity")
	}
	users.Close()
	for _, name := range []string{"orders", "notifications"} {
		if _, err := os.Stat(filepath.Join(data, name+".db")); err != nil {
			t.Error(err)
		}
	}
	// A second start on the migrated directory changes nothing.
	r2 := startFile(t, file)
	if status, body := call(t, "GET", "http://"+r2.GatewayAddr()+"/orders/1", ""); status != 200 || !strings.Contains(body, `"status":"Shipped"`) {
		t.Errorf("after a restart: %d %s", status, body)
	}
}

func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	s, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
