package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ErrLeaseLost is what CheckLease returns when the caller no longer holds
// the lease with its token: another holder took it over, or it expired.
var ErrLeaseLost = errors.New("lease lost")

// Lease is a held lease: its name, holder, fencing token and expiry.
type Lease struct {
	Name, Holder string
	Token        int64
	Expires      time.Time
}

// AcquireLease takes or renews lease name for holder for ttl. It returns
// the lease and true when holder holds it now, or the current holder's
// lease and false. The token stays the same while one holder renews in
// time and grows whenever the lease changes hands (or its holder comes back
// after it expired), so a token names one unbroken tenure.
func (s *Store) AcquireLease(ctx context.Context, name, holder string, ttl time.Duration) (Lease, bool, error) {
	l := Lease{Name: name}
	err := s.Pool.QueryRow(ctx, `INSERT INTO leases AS l (name, holder, token, expires_at)
		VALUES ($1, $2, 1, now() + $3::bigint * interval '1 microsecond')
		ON CONFLICT (name) DO UPDATE SET
			holder = EXCLUDED.holder,
			token = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at > now() THEN l.token ELSE l.token + 1 END,
			acquired_at = CASE WHEN l.holder = EXCLUDED.holder AND l.expires_at > now() THEN l.acquired_at ELSE now() END,
			expires_at = EXCLUDED.expires_at
		WHERE l.holder = EXCLUDED.holder OR l.expires_at <= now()
		RETURNING holder, token, expires_at`, name, holder, ttl.Microseconds()).Scan(&l.Holder, &l.Token, &l.Expires)
	if err == nil {
		return l, true, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return l, false, fmt.Errorf("lease %s: %w", name, err)
	}
	cur, err := s.LeaseHolder(ctx, name)
	return cur, false, err
}

// LeaseHolder reads lease name as it stands (zero Lease if never taken).
func (s *Store) LeaseHolder(ctx context.Context, name string) (Lease, error) {
	l := Lease{Name: name}
	err := s.Pool.QueryRow(ctx, `SELECT holder, token, expires_at FROM leases WHERE name = $1`, name).Scan(&l.Holder, &l.Token, &l.Expires)
	if errors.Is(err, pgx.ErrNoRows) {
		return l, nil
	}
	if err != nil {
		return l, fmt.Errorf("lease %s: %w", name, err)
	}
	return l, nil
}

// CheckLease is the fencing check: nil only if l's holder still holds lease
// l.Name with l.Token, unexpired, by the database's clock.
func (s *Store) CheckLease(ctx context.Context, l Lease) error {
	var ok bool
	err := s.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM leases WHERE name = $1 AND holder = $2 AND token = $3 AND expires_at > now())`,
		l.Name, l.Holder, l.Token).Scan(&ok)
	if err != nil {
		return fmt.Errorf("check lease %s: %w", l.Name, err)
	}
	if !ok {
		return fmt.Errorf("%w: %s (token %d) no longer held by %s", ErrLeaseLost, l.Name, l.Token, l.Holder)
	}
	return nil
}

// ReleaseLease ends l's tenure now (a clean stop), so that another holder
// takes over without waiting for it to expire. Releasing a lease taken
// over meanwhile changes nothing.
func (s *Store) ReleaseLease(ctx context.Context, l Lease) error {
	_, err := s.Pool.Exec(ctx, `UPDATE leases SET expires_at = now() WHERE name = $1 AND holder = $2 AND token = $3`, l.Name, l.Holder, l.Token)
	if err != nil {
		return fmt.Errorf("release lease %s: %w", l.Name, err)
	}
	return nil
}

// StatusStat is how many submissions are in a status and how long the
// oldest of them has been in it.
type StatusStat struct {
	Status string
	Count  int64
	Oldest time.Duration
}

// QueueStats reads the outbox's depth and, per status, the submissions in
// it and the age of the oldest (for /metrics: a status whose oldest age
// only grows is a stuck stage).
func (s *Store) QueueStats(ctx context.Context) (outbox int64, statuses []StatusStat, err error) {
	if err := s.Pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&outbox); err != nil {
		return 0, nil, err
	}
	rows, err := s.Pool.Query(ctx, `SELECT status, count(*), extract(epoch FROM now() - min(updated_at))::float8 FROM submissions GROUP BY status`)
	if err != nil {
		return outbox, nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var st StatusStat
		var secs float64
		if err := rows.Scan(&st.Status, &st.Count, &secs); err != nil {
			return outbox, nil, err
		}
		st.Oldest = time.Duration(secs * float64(time.Second))
		statuses = append(statuses, st)
	}
	return outbox, statuses, rows.Err()
}
