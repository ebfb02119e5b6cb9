package lsp

import (
	"testing"

	protocol "github.com/tliron/glsp/protocol_3_16"

	"github.com/tuskcompose/composer/tsk"
)

// TestUTF16Positions: characters count UTF-16 code units, as LSP clients
// count by default: é is one, 😀 two, and a position is the same after a
// round trip; CRLF lines count as lines.
func TestUTF16Positions(t *testing.T) {
	src := "a: \"é😀x\"\r\nb: 1\n"
	tx := newText(src)
	for _, tc := range []struct {
		off  int
		line int
		char int
	}{{0, 0, 0}, {4, 0, 4}, {6, 0, 5}, {10, 0, 7}, {11, 0, 8}, {14, 1, 0}, {15, 1, 1}} {
		p := tx.position(tc.off)
		if int(p.Line) != tc.line || int(p.Character) != tc.char {
			t.Errorf("position(%d) = %d:%d, want %d:%d", tc.off, p.Line, p.Character, tc.line, tc.char)
		}
		if back := tx.offset(p); back != tc.off {
			t.Errorf("offset(%d:%d) = %d, want %d", p.Line, p.Character, back, tc.off)
		}
	}
	// A diagnostic after the emoji is where the editor shows the x.
	d := toProtocol(tx, tsk.Diagnostic{Pos: tsk.Pos{Offset: 10, Line: 1, Column: 11}, Msg: "x"})
	if d.Range.Start != (protocol.Position{Line: 0, Character: 7}) || d.Range.End != (protocol.Position{Line: 0, Character: 8}) {
		t.Errorf("range %+v", d.Range)
	}
}

// TestPathAt: the keys around a point, through sections, blocks on one
// line or many, angle blocks and objects in lists.
func TestPathAt(t *testing.T) {
	src := "[composer]\ntls { certificates: [{ hosts: [\"a\"], |\n}] }\n[services]\nusers {\n  cors { | }\n}\napi >\n  |\n<\n[events] # x\n|\n"
	var marks []int
	clean := ""
	for i := 0; i < len(src); i++ {
		if src[i] == '|' {
			marks = append(marks, len(clean))
			continue
		}
		clean += string(src[i])
	}
	o := scan(clean)
	for i, want := range []string{"composer.tls.certificates", "services.users.cors", "services.api", "events"} {
		if got := join(o.pathAt(marks[i])); got != want {
			t.Errorf("mark %d: %s, want %s", i, got, want)
		}
	}
}

func join(p []string) string {
	out := ""
	for i, s := range p {
		if i > 0 {
			out += "."
		}
		out += s
	}
	return out
}
