package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"
)

// FinisherLease names the PostgreSQL lease of the finisher: anchor and mint
// (chain txs signed by the coordinator's one account, whose nonces two
// senders would fight over), vote expiry and claim sync run in one
// coordinator at a time. Every other loop is safe in many coordinators at
// once: the relay claims outbox rows FOR UPDATE SKIP LOCKED, the result
// consumer shares one work-queue consumer and applies results
// idempotently, the blob sweep claims uploads FOR UPDATE SKIP LOCKED, and
// stuck-job advisories go to one coordinator of the queue group.
const FinisherLease = "finisher"

// DefaultLeaseTTL is how long a coordinator's finisher lease lasts without
// renewal: a killed holder's finisher work resumes elsewhere after at most
// this long.
const DefaultLeaseTTL = 10 * time.Second

// newHolderID names this coordinator process in the lease table.
func newHolderID() string {
	host, _ := os.Hostname()
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(r[:]))
}

// leaseKeeper takes the finisher lease when it is free and renews it every
// third of its TTL while this coordinator holds it; s.lease is the current
// tenure (nil when another coordinator holds it). On stop it releases the
// lease so that another coordinator takes over at once.
func (s *Server) leaseKeeper(ctx context.Context) {
	ttl := s.cfg.LeaseTTL
	tick := time.NewTicker(ttl / 3)
	defer tick.Stop()
	for {
		s.renewLease(ctx, ttl)
		select {
		case <-ctx.Done():
			if l := s.lease.Swap(nil); l != nil {
				rctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				_ = s.store.ReleaseLease(rctx, *l)
				cancel()
			}
			return
		case <-tick.C:
		}
	}
}

func (s *Server) renewLease(ctx context.Context, ttl time.Duration) {
	l, held, err := s.store.AcquireLease(ctx, FinisherLease, s.cfg.Holder, ttl)
	switch {
	case err != nil:
		if ctx.Err() == nil {
			s.log.Warn("finisher lease: renew failed", "err", err)
		}
		// keep the tenure we had: its fencing check fails by itself once it expires
		return
	case !held:
		if prev := s.lease.Swap(nil); prev != nil {
			s.log.Warn("finisher lease lost", "token", prev.Token, "holder", l.Holder)
		}
		s.m.leaseHeld.WithLabelValues(FinisherLease).Set(0)
		return
	}
	if prev := s.lease.Swap(&l); prev == nil || prev.Token != l.Token {
		s.log.Info("finisher lease taken", "token", l.Token, "holder", l.Holder)
		s.wakeFinisher()
	}
	s.m.leaseHeld.WithLabelValues(FinisherLease).Set(1)
	s.m.leaseToken.WithLabelValues(FinisherLease).Set(float64(l.Token))
}

// errNotLeader refuses finisher work in a coordinator that does not hold
// the finisher lease.
var errNotLeader = errors.New("this coordinator does not hold the finisher lease")

// fence is the fencing check the chain link makes before it builds and
// signs each tx: the tenure this coordinator believes it holds is still
// the lease's, by the database.
func (s *Server) fence(ctx context.Context) error {
	l := s.lease.Load()
	if l == nil {
		return errNotLeader
	}
	return s.store.CheckLease(ctx, *l)
}

// Leader reports whether this coordinator holds the finisher lease now.
func (s *Server) Leader() bool { return s.lease.Load() != nil }

// fencedChain is a chain link that checks a fence before every tx it sends.
type fencedChain interface {
	SetFence(func(context.Context) error)
}
