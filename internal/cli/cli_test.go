package cli

import (
	"context"
	"errors"
	"slices"
	"testing"
)

func TestGlobals(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		args, want []string
		api        bool
		json       bool
		url        string
	}{
		{[]string{"submit", "f", "--json", "--api", "http://x"}, []string{"submit", "f"}, true, true, "http://x"},
		{[]string{"--api=http://y", "status", "ID", "--json=false"}, []string{"status", "ID"}, true, false, "http://y"},
		// vscd: --api belongs to the commands that take one
		{[]string{"bench", "intake", "--api", "http://z", "-json"}, []string{"bench", "intake", "--api", "http://z"}, false, true, ""},
		{[]string{"x", "--json=maybe"}, []string{"x", "--json=maybe"}, false, false, ""},
	} {
		env := &Env{}
		var got []string
		if c.api {
			got = Globals(c.args, env)
		} else {
			got = JSONGlobal(c.args, env)
		}
		if !slices.Equal(got, c.want) || env.JSON != c.json || env.API != c.url {
			t.Errorf("%v: %v json=%v api=%q, want %v json=%v api=%q", c.args, got, env.JSON, env.API, c.want, c.json, c.url)
		}
	}
}

func TestDispatchTakesTheLongestName(t *testing.T) {
	t.Parallel()
	var ran string
	var rest []string
	cmd := func(name string) Func {
		return func(_ context.Context, _ *Env, args []string) error { ran, rest = name, args; return nil }
	}
	cmds := []Command{{Name: "chain", Run: cmd("chain")}, {Name: "chain replay", Run: cmd("chain replay")}}
	if err := Dispatch(context.Background(), cmds, &Env{}, []string{"chain", "replay", "--data", "d"}); err != nil || ran != "chain replay" || !slices.Equal(rest, []string{"--data", "d"}) {
		t.Fatalf("ran %q with %v: %v", ran, rest, err)
	}
	if err := Dispatch(context.Background(), cmds, &Env{}, []string{"chain", "--lanes", "2"}); err != nil || ran != "chain" {
		t.Fatalf("ran %q: %v", ran, err)
	}
	if err := Dispatch(context.Background(), cmds, &Env{}, []string{"chains"}); !errors.Is(err, ErrUsage) {
		t.Fatalf("unknown command: %v", err)
	}
}

func TestEnvReadsItsOwnEnvironment(t *testing.T) {
	t.Parallel()
	env := &Env{Getenv: func(name string) string { return map[string]string{"N": "7", "F": "0.5", "S": "x"}[name] }}
	if env.Var("S", "d") != "x" || env.Var("MISSING", "d") != "d" || env.Int("N", 1) != 7 || env.Int("S", 1) != 1 || env.Float("F", 1) != 0.5 {
		t.Fatal("Env reads wrongly")
	}
}
