package composer

import "github.com/tuskcompose/composer/tsk"

// Source is where an element of a platform file is written: the value of
// its block (or of one key), from which its keys and their items are
// reached without looking the element up again. Resolve gives every
// service, event route and section its Source; Validate and Warnings
// report at them. Where a key or item is missing, the enclosing element
// stands in, so a problem is always reported somewhere near its cause.
// The zero Source is nowhere (a platform that was not read from a file).
type Source struct {
	v *tsk.Value
}

// Pos is where the element starts.
func (s Source) Pos() tsk.Pos {
	if s.v == nil {
		return tsk.Pos{}
	}
	return s.v.Pos
}

// End is where the element ends (zero when unknown).
func (s Source) End() tsk.Pos {
	if s.v == nil {
		return tsk.Pos{}
	}
	return s.v.End
}

// Value is the element's value (nil for the zero Source).
func (s Source) Value() *tsk.Value { return s.v }

// Has reports whether the element is a block that sets key.
func (s Source) Has(key string) bool {
	return s.v != nil && s.v.Kind == tsk.Object && s.v.Obj.Get(key) != nil
}

// Key is the value of key in the element's block, or the element.
func (s Source) Key(key string) Source {
	if s.Has(key) {
		return Source{s.v.Obj.Get(key)}
	}
	return s
}

// Item is the i-th item of the element's list, or the element.
func (s Source) Item(i int) Source {
	if s.v != nil && s.v.Kind == tsk.Array && i >= 0 && i < len(s.v.List) {
		return Source{s.v.List[i]}
	}
	return s
}

// Entry is the entry of a list or of a block of name: value (depends_on
// is either): by name in a block, by index in a list.
func (s Source) Entry(name string, i int) Source {
	if s.v != nil && s.v.Kind == tsk.Object {
		return s.Key(name)
	}
	return s.Item(i)
}

// Keys are the keys of the element's block, in file order.
func (s Source) Keys() []string {
	if s.v == nil || s.v.Kind != tsk.Object {
		return nil
	}
	return s.v.Obj.Keys()
}

// Members are the element's keys with their values, in file order.
func (s Source) Members() []tsk.Member {
	if s.v == nil || s.v.Kind != tsk.Object {
		return nil
	}
	return s.v.Obj.Members()
}
