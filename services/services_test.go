package services

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"golang.org/x/crypto/bcrypt"

	"github.com/tuskcompose/composer/internal/breaker"
	"github.com/tuskcompose/composer/internal/store"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// shop runs the three services on one loopback server; orders asks users
// over HTTP, through a breaker, as in a platform.
type shop struct {
	srv     *httptest.Server
	store   *store.Store
	notes   *Notifications
	breaker *breaker.Breaker
	client  *UsersClient
}

func newShop(t *testing.T, path string) *shop {
	t.Helper()
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := &shop{store: st, breaker: breaker.New(breaker.Settings{FailureThreshold: 2, RecoveryTimeout: time.Minute}, nil, nil)}
	r := gin.New()
	users := NewUsers(st)
	users.cost = bcrypt.MinCost
	users.Register(r)
	s.client = &UsersClient{HTTP: http.DefaultClient, Breaker: s.breaker}
	NewOrders(st, s.client).Register(r)
	s.notes = NewNotifications(st, nil, nil)
	s.notes.Register(r)
	s.srv = httptest.NewServer(r)
	t.Cleanup(s.srv.Close)
	s.client.BaseURL = s.srv.URL
	return s
}

func (s *shop) do(t *testing.T, method, path, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.srv.URL+path, strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(data) > 0 && data[0] == '{' {
		if err := json.Unmarshal(data, &out); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %s", method, path, data)
		}
	}
	return resp.StatusCode, out
}

func TestUsers(t *testing.T) {
	s := newShop(t, filepath.Join(t.TempDir(), "shop.db"))
	status, u := s.do(t, "POST", "/users", `{"username":"ada","email":"ada@example.com","password":"correct horse"}`)
	if status != 201 || u["id"] != 1.0 || u["username"] != "ada" || u["created_at"] == nil {
		t.Fatalf("create: %d %v", status, u)
	}
	if _, leaked := u["password"]; leaked || u["password_hash"] != nil {
		t.Error("the answer shows the password")
	}
	tests := []struct {
		name, body string
		want       int
		errHas     string
	}{
		{"bad fields", `{"username":"a","email":"nope","password":"short"}`, 400, "username: 3 to 32"},
		{"malformed JSON", `{"username":`, 400, "malformed JSON"},
		{"unknown field", `{"username":"bob","email":"bob@example.com","password":"12345678","admin":true}`, 400, "unknown field"},
		{"taken username", `{"username":"ADA","email":"other@example.com","password":"12345678"}`, 409, "username is already taken"},
		{"taken email", `{"username":"bob","email":"ada@example.com","password":"12345678"}`, 409, "email is already taken"},
	}
	for _, tt := range tests {
		status, body := s.do(t, "POST", "/users", tt.body)
		if status != tt.want || !strings.Contains(body["error"].(string), tt.errHas) {
			t.Errorf("%s: %d %v, want %d with %q", tt.name, status, body, tt.want, tt.errHas)
		}
	}
	if status, got := s.do(t, "GET", "/users/1", ""); status != 200 || got["email"] != "ada@example.com" {
		t.Errorf("get: %d %v", status, got)
	}
	if status, _ := s.do(t, "GET", "/users/9", ""); status != 404 {
		t.Errorf("missing user: %d", status)
	}
	if status, _ := s.do(t, "GET", "/users/abc", ""); status != 400 {
		t.Errorf("bad id: %d", status)
	}
}

func TestOrdersAndNotifications(t *testing.T) {
	s := newShop(t, filepath.Join(t.TempDir(), "shop.db"))
	s.do(t, "POST", "/users", `{"username":"ada","email":"ada@example.com","password":"correct horse"}`)
	status, o := s.do(t, "POST", "/orders", `{"user_id":1,"items":[{"product_id":"sku-1","quantity":2,"price":19.99},{"product_id":7,"quantity":1,"price":5}]}`)
	if status != 201 || o["total_amount"] != 44.98 || o["status"] != "Pending" || o["id"] != 1.0 {
		t.Fatalf("create: %d %v", status, o)
	}
	for _, tt := range []struct {
		name, body string
		want       int
	}{
		{"unknown user", `{"user_id":42,"items":[{"product_id":"a","quantity":1,"price":1}]}`, 422},
		{"no items", `{"user_id":1,"items":[]}`, 400},
		{"bad quantity", `{"user_id":1,"items":[{"product_id":"a","quantity":0,"price":1}]}`, 400},
		{"bad product", `{"user_id":1,"items":[{"product_id":true,"quantity":1,"price":1}]}`, 400},
	} {
		if status, body := s.do(t, "POST", "/orders", tt.body); status != tt.want {
			t.Errorf("%s: %d %v, want %d", tt.name, status, body, tt.want)
		}
	}
	steps := []struct {
		status string
		want   int
	}{{"Confirmed", 200}, {"Confirmed", 200}, {"Pending", 409}, {"Shipped", 200}, {"Delivered", 200}, {"Cancelled", 409}, {"Lost", 400}}
	for _, st := range steps {
		if status, body := s.do(t, "PUT", "/orders/1/status", `{"status":"`+st.status+`"}`); status != st.want {
			t.Errorf("to %s: %d %v, want %d", st.status, status, body, st.want)
		}
	}
	if status, got := s.do(t, "GET", "/orders/1", ""); status != 200 || got["status"] != "Delivered" {
		t.Errorf("get: %d %v", status, got)
	}
	if status, _ := s.do(t, "PUT", "/orders/5/status", `{"status":"Confirmed"}`); status != 404 {
		t.Errorf("unknown order: %d", status)
	}

	// Deliver the outbox to notifications, twice: at-least-once delivery.
	events, _ := s.store.Pending(100)
	for range 2 {
		for _, e := range events {
			if err := s.notes.Handle(context.Background(), e); err != nil {
				t.Fatal(err)
			}
		}
	}
	resp, err := http.Get(s.srv.URL + "/notifications")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var notes []Notification
	json.NewDecoder(resp.Body).Decode(&notes)
	if len(notes) != 2 || notes[0].Kind != "welcome" || notes[0].To != "ada@example.com" || notes[1].Kind != "order_confirmation" {
		t.Errorf("notifications %+v, want a welcome and a confirmation, once each", notes)
	}
}

func TestOrdersWhenUsersIsDown(t *testing.T) {
	s := newShop(t, filepath.Join(t.TempDir(), "shop.db"))
	down := httptest.NewServer(http.NotFoundHandler())
	s.client.BaseURL = down.URL
	down.Close() // connection refused from now on
	body := `{"user_id":1,"items":[{"product_id":"a","quantity":1,"price":1}]}`
	for range 2 {
		if status, got := s.do(t, "POST", "/orders", body); status != 503 {
			t.Fatalf("users unreachable: %d %v, want 503", status, got)
		}
	}
	status, got := s.do(t, "POST", "/orders", body)
	if status != 503 || !strings.Contains(got["error"].(string), "circuit breaker open") {
		t.Errorf("breaker open: %d %v", status, got)
	}
}

func TestRestartKeepsEverything(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shop.db")
	s := newShop(t, path)
	s.do(t, "POST", "/users", `{"username":"ada","email":"ada@example.com","password":"correct horse"}`)
	s.srv.Close()
	s.store.Close()

	s = newShop(t, path)
	if status, got := s.do(t, "GET", "/users/1", ""); status != 200 || got["username"] != "ada" {
		t.Fatalf("after a restart: %d %v", status, got)
	}
	if status, got := s.do(t, "POST", "/users", `{"username":"bob","email":"bob@example.com","password":"12345678"}`); status != 201 || got["id"] != 2.0 {
		t.Errorf("next user after a restart: %d %v, want id 2", status, got)
	}
}
