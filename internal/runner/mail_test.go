package runner

import (
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-smtp"
)

// mailbox is an SMTP server's backend (emersion/go-smtp) that keeps the
// messages it accepts, and refuses the first one (a temporary error).
type mailbox struct {
	mu       sync.Mutex
	refused  int
	messages []mailMessage
}

type mailMessage struct {
	from string
	to   []string
	data string
}

func (m *mailbox) NewSession(*smtp.Conn) (smtp.Session, error) { return &mailSession{box: m}, nil }

type mailSession struct {
	box *mailbox
	msg mailMessage
}

func (s *mailSession) Reset()        { s.msg = mailMessage{} }
func (s *mailSession) Logout() error { return nil }
func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	s.msg.from = from
	return nil
}
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.to = append(s.msg.to, to)
	return nil
}
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.box.mu.Lock()
	defer s.box.mu.Unlock()
	if s.box.refused == 0 {
		s.box.refused++
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.msg.data = string(b)
	s.box.messages = append(s.box.messages, s.msg)
	return nil
}

func (m *mailbox) find(subject string) []mailMessage {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []mailMessage
	for _, msg := range m.messages {
		if strings.Contains(msg.data, "Subject: "+subject) {
			out = append(out, msg)
		}
	}
	return out
}

// TestNotificationsByMail: with [notifications] smtp, the welcome and
// the order confirmation go out as emails, to the user's address (the
// confirmation's asked of users), through a real SMTP server; one the
// server refuses is sent again by the route's retries, once.
func TestNotificationsByMail(t *testing.T) {
	box := &mailbox{}
	srv := smtp.NewServer(box)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	port := ln.Addr().(*net.TCPAddr).Port
	p := startPlatform(t, fmt.Sprintf(`
[notifications]
smtp { host: "127.0.0.1", port: %d, from: "shop@example.com" }
`, port))
	gw := "http://" + p.r.GatewayAddr()
	id := createUser(t, gw, "ada")
	if status, body := call(t, "POST", gw+"/orders", fmt.Sprintf(`{"user_id":%d,"items":[{"product_id":"book","quantity":2,"price":12.5}]}`, id)); status != 201 {
		t.Fatalf("order: %d %s", status, body)
	}
	eventually(t, "the welcome and the confirmation by mail", func() bool {
		return len(box.find("Welcome, ada")) > 0 && len(box.find("Order 1 received")) > 0
	})
	for _, subject := range []string{"Welcome, ada", "Order 1 received"} {
		msgs := box.find(subject)
		if len(msgs) != 1 || msgs[0].from != "shop@example.com" || len(msgs[0].to) != 1 || msgs[0].to[0] != "ada@example.com" {
			t.Errorf("%q: %+v", subject, msgs)
		}
	}
	box.mu.Lock()
	if box.refused != 1 {
		t.Errorf("the server refused %d messages, want 1", box.refused)
	}
	box.mu.Unlock()
	if _, body := call(t, "GET", gw+"/notifications", ""); !strings.Contains(body, `"to":"ada@example.com","subject":"Order 1 received"`) {
		t.Errorf("GET /notifications: %s", body)
	}
}
