package parser

import "testing"

// TestByteOrderMark: a file saved with a UTF-8 byte-order mark parses as
// without one; columns count from after it, offsets are the file's.
func TestByteOrderMark(t *testing.T) {
	for _, src := range []string{"\ufeff[a]\nb: 1\n", "\ufeff[a]\r\nb: 1\r\n"} {
		f, errs := ParseString("bom.tsk", src)
		if len(errs) > 0 {
			t.Fatalf("%q: %v", src, errs)
		}
		if len(f.Items) == 0 {
			t.Fatalf("%q: nothing parsed", src)
		}
	}
	_, errs := ParseString("bom.tsk", "\ufeff?\n")
	if len(errs) == 0 || errs[0].Pos.Column != 1 || errs[0].Pos.Offset != 3 {
		t.Errorf("an error at the first character after the mark: %v", errs)
	}
}
