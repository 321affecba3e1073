package manifest

import "testing"

func TestEqualJSON(t *testing.T) {
	cases := []struct {
		a, b any
		want bool
	}{
		{map[string]any{"a": []any{int64(1), "x", nil, true}}, map[string]any{"a": []any{int64(1), "x", nil, true}}, true},
		{map[string]any{"a": int64(1)}, map[string]any{"a": float64(1)}, false},
		{map[string]any{"a": "1"}, map[string]any{"a": "1", "b": "2"}, false},
		{map[string]any{"a": nil}, map[string]any{"b": nil}, false},
		{[]any{"a", "b"}, []any{"b", "a"}, false},
		{map[string]any{}, map[string]any(nil), false},
	}
	for _, tc := range cases {
		if got := EqualJSON(tc.a, tc.b); got != tc.want {
			t.Errorf("EqualJSON(%v, %v) = %t, want %t", tc.a, tc.b, got, tc.want)
		}
	}
}
