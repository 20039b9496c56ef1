// Package store is the coordinator's PostgreSQL state, through a pgx pool.
// Every multi-row change runs in one transaction, so a crash leaves either
// all of it or none of it: a submission, its evidence rows, its outbox jobs
// and its nonce bump commit together.
package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/vsc-labs/vsc/coordinator"
	"github.com/vsc-labs/vsc/idao"
	"github.com/vsc-labs/vsc/migrations"
)

// Sentinel errors.
var (
	ErrNotFound    = errors.New("not found")
	ErrNonceReplay = errors.New("nonce already used")
	ErrNonceGap    = errors.New("nonce skips ahead")
	ErrExists      = errors.New("already exists")
	ErrBadMove     = errors.New("status transition not allowed")
	ErrUnknownIDAO = errors.New("unknown iDAO")
)

// Store is the coordinator's database.
type Store struct {
	Pool *pgxpool.Pool
	log  *slog.Logger
}

// Open connects to url, applies migrations and returns the store.
func Open(ctx context.Context, url string, maxConns int32, log *slog.Logger) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("DATABASE_URL %q: %w", url, err)
	}
	if maxConns > 0 {
		cfg.MaxConns = maxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres at %s: %w (start one with scripts/ensure-postgres.sh, or set DATABASE_URL)", cfg.ConnConfig.Host, err)
	}
	if err := migrations.Apply(ctx, pool, log); err != nil {
		pool.Close()
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{Pool: pool, log: log}, nil
}

// Close closes the pool.
func (s *Store) Close() {
	if s != nil && s.Pool != nil {
		s.Pool.Close()
	}
}

// CreateIDAO inserts an iDAO into the PostgreSQL registry (a coordinator
// without a chain); its members join with Join. ErrExists if the name is
// taken.
func (s *Store) CreateIDAO(ctx context.Context, d *coordinator.Registered) error {
	policy, err := json.Marshal(coordinator.NewPolicyConfig(&d.Policy))
	if err != nil {
		return err
	}
	var pub, report []byte
	if d.Enclave != nil {
		pub, report = d.Enclave.PublicKey, d.Enclave.Report
	}
	_, err = s.Pool.Exec(ctx, `INSERT INTO idaos (name, owner, modes, policy, enclave_pubkey, enclave_report)
		VALUES ($1,$2,$3,$4,$5,$6)`, d.Name, d.Owner[:], modeStrings(d.Policy.Modes), policy, pub, nullJSON(report))
	if isUnique(err) {
		return fmt.Errorf("%w: iDAO %q", ErrExists, d.Name)
	}
	return err
}

func modeStrings(ms []idao.Mode) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m)
	}
	return out
}

// idaoRow is an idaos row as it is read, before its members.
type idaoRow struct {
	name, owner, policy, pub, report []byte
	modes                            []string
}

const idaoColumns = `name, owner, modes, policy, enclave_pubkey, enclave_report`

func (r *idaoRow) scan(row pgx.Row) error {
	return row.Scan(&r.name, &r.owner, &r.modes, &r.policy, &r.pub, &r.report)
}

// registered is the iDAO of a row (without its members).
func (r *idaoRow) registered() (*coordinator.Registered, error) {
	var c coordinator.PolicyConfig
	if len(r.policy) > 0 {
		if err := json.Unmarshal(r.policy, &c); err != nil {
			return nil, fmt.Errorf("iDAO %s: the stored policy does not decode: %w", r.name, err)
		}
	}
	modes := make([]idao.Mode, len(r.modes))
	for i, m := range r.modes {
		modes[i] = idao.Mode(m)
	}
	p, err := c.Policy(modes)
	if err != nil {
		return nil, fmt.Errorf("iDAO %s: %w", r.name, err)
	}
	d := &coordinator.Registered{IDAO: &idao.IDAO{Name: string(r.name), Owner: common.BytesToAddress(r.owner), Policy: p}}
	if len(r.pub) > 0 {
		d.Enclave = &coordinator.EnclaveKey{PublicKey: r.pub, Report: r.report}
	}
	return d, nil
}

// Join adds stake for member in an iDAO (creating the membership).
func (s *Store) Join(ctx context.Context, name string, member common.Address, stake *big.Int) error {
	_, err := s.Pool.Exec(ctx, `INSERT INTO idao_members (idao, member, stake) VALUES ($1,$2,$3::numeric)
		ON CONFLICT (idao, member) DO UPDATE SET stake = idao_members.stake + EXCLUDED.stake`,
		name, member[:], stake.String())
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23503" {
		return fmt.Errorf("%w: %q", ErrUnknownIDAO, name)
	}
	return err
}

// GetIDAO loads an iDAO of the PostgreSQL registry with its members.
func (s *Store) GetIDAO(ctx context.Context, name string) (*coordinator.Registered, error) {
	out, err := s.idaos(ctx, `SELECT `+idaoColumns+` FROM idaos WHERE name=$1`, name)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %q", ErrUnknownIDAO, name)
	}
	return out[0], nil
}

// ListIDAOs returns all iDAOs of the PostgreSQL registry by name.
func (s *Store) ListIDAOs(ctx context.Context) ([]*coordinator.Registered, error) {
	return s.idaos(ctx, `SELECT `+idaoColumns+` FROM idaos ORDER BY name`)
}

// IDAOPage returns up to limit iDAOs whose names sort after after, by
// name, with their members: two queries whatever the page's size.
func (s *Store) IDAOPage(ctx context.Context, after string, limit int) ([]*coordinator.Registered, error) {
	return s.idaos(ctx, `SELECT `+idaoColumns+` FROM idaos WHERE name > $1 ORDER BY name LIMIT $2`, after, limit)
}

// idaos reads the iDAOs a query of idaoColumns selects, then their members
// (one more query).
func (s *Store) idaos(ctx context.Context, query string, args ...any) ([]*coordinator.Registered, error) {
	rows, err := s.Pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*coordinator.Registered, error) {
		var row idaoRow
		if err := row.scan(r); err != nil {
			return nil, err
		}
		return row.registered()
	})
	if err != nil || len(out) == 0 {
		return out, err
	}
	names := make([]string, len(out))
	byName := make(map[string]*coordinator.Registered, len(out))
	for i, d := range out {
		names[i], byName[d.Name] = d.Name, d
	}
	mrows, err := s.Pool.Query(ctx, `SELECT idao, member, stake::text FROM idao_members WHERE idao = ANY($1) ORDER BY idao, member`, names)
	if err != nil {
		return nil, err
	}
	defer mrows.Close()
	for mrows.Next() {
		var name, stake string
		var addr []byte
		if err := mrows.Scan(&name, &addr, &stake); err != nil {
			return nil, err
		}
		st, ok := new(big.Int).SetString(stake, 10)
		if !ok {
			return nil, fmt.Errorf("iDAO %s: a member's stake %q is not an amount", name, stake)
		}
		d := byName[name]
		d.Members = append(d.Members, idao.Member{Addr: common.BytesToAddress(addr), Stake: st, Pending: new(big.Int)})
	}
	return out, mrows.Err()
}

// NextNonce returns the nonce addr must use next.
func (s *Store) NextNonce(ctx context.Context, addr common.Address) (uint64, error) {
	var n int64
	err := s.Pool.QueryRow(ctx, `SELECT next_nonce FROM accounts WHERE address=$1`, addr[:]).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return uint64(n), err
}

// Tx runs fn in a transaction.
func (s *Store) Tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, s.Pool, fn)
}

func isUnique(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "23505"
}

func nullJSON(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

func keccak(b []byte) common.Hash { return crypto.Keccak256Hash(b) }
