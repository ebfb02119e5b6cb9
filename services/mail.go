package services

import (
	"context"
	"fmt"
	"time"

	"github.com/wneessen/go-mail"
)

// SMTP are the settings of MailSender: [notifications] smtp { ... }.
type SMTP struct {
	Host     string
	Port     int // 0: 587 with STARTTLS, 25 without
	Username string
	Password string
	From     string
	// StartTLS requires STARTTLS before anything is sent (without it,
	// the mail goes in the clear: for a relay on loopback).
	StartTLS bool
	Timeout  time.Duration
}

// MailSender sends notifications as emails through an SMTP server
// (wneessen/go-mail): one connection per message, so that nothing is
// held between notifications. A send that fails is an error, which makes
// the event route deliver the event again (its retries, then its dead
// letters).
type MailSender struct {
	s SMTP
}

// NewMailSender returns the sender of s.
func NewMailSender(s SMTP) *MailSender { return &MailSender{s: s} }

// Send implements Sender.
func (m *MailSender) Send(ctx context.Context, n Notification) error {
	msg := mail.NewMsg()
	if err := msg.From(m.s.From); err != nil {
		return fmt.Errorf("from %q: %w", m.s.From, err)
	}
	if err := msg.To(n.To); err != nil {
		return fmt.Errorf("to %q: %w", n.To, err)
	}
	msg.Subject(n.Subject)
	msg.SetBodyString(mail.TypeTextPlain, n.Body)
	if n.EventID != "" {
		msg.SetGenHeader("X-Composer-Event", n.EventID)
	}
	policy, port := mail.NoTLS, 25
	if m.s.StartTLS {
		policy, port = mail.TLSMandatory, 587
	}
	if m.s.Port != 0 {
		port = m.s.Port
	}
	timeout := m.s.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	opts := []mail.Option{mail.WithPort(port), mail.WithTLSPolicy(policy), mail.WithTimeout(timeout)}
	if m.s.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(m.s.Username), mail.WithPassword(m.s.Password))
	}
	client, err := mail.NewClient(m.s.Host, opts...)
	if err != nil {
		return err
	}
	return client.DialAndSendWithContext(ctx, msg)
}
