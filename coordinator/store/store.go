// Package store is the coordinator's PostgreSQL state, through a pgx pool.
// Every multi-row change runs in one transaction, so a crash leaves either
// all of it or none of it: a submission, its evidence rows, its outbox jobs
// and its nonce bump commit together.
package store

import (
	"context"
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

// IDAO is an iDAO row.
type IDAO struct {
	Name          string
	Owner         common.Address
	Modes         []string // accepted modes; Modes[0] is the default (the policy)
	Policy        []byte   // JSON policy details (TEE measurement policy, VK hash, ...)
	EnclavePubkey []byte
	EnclaveReport []byte
	Members       []Member
}

// Member is one member of an iDAO with its stake.
type Member struct {
	Address common.Address
	Stake   *big.Int
}

// TotalStake sums the members' stake.
func (d *IDAO) TotalStake() *big.Int {
	t := new(big.Int)
	for _, m := range d.Members {
		t.Add(t, m.Stake)
	}
	return t
}

// CreateIDAO inserts an iDAO; ErrExists if the name is taken.
func (s *Store) CreateIDAO(ctx context.Context, d *IDAO) error {
	policy := d.Policy
	if policy == nil {
		policy = []byte("{}")
	}
	_, err := s.Pool.Exec(ctx, `INSERT INTO idaos (name, owner, modes, policy, enclave_pubkey, enclave_report)
		VALUES ($1,$2,$3,$4,$5,$6)`, d.Name, d.Owner[:], d.Modes, policy, d.EnclavePubkey, nullJSON(d.EnclaveReport))
	if isUnique(err) {
		return fmt.Errorf("%w: iDAO %q", ErrExists, d.Name)
	}
	return err
}

// SetEnclaveKey records the iDAO's attested enclave key.
func (s *Store) SetEnclaveKey(ctx context.Context, name string, pub, report []byte) error {
	tag, err := s.Pool.Exec(ctx, `UPDATE idaos SET enclave_pubkey=$2, enclave_report=$3 WHERE name=$1`, name, pub, nullJSON(report))
	if err == nil && tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %q", ErrUnknownIDAO, name)
	}
	return err
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

// GetIDAO loads an iDAO with its members.
func (s *Store) GetIDAO(ctx context.Context, name string) (*IDAO, error) {
	d := &IDAO{Name: name}
	var owner []byte
	err := s.Pool.QueryRow(ctx, `SELECT owner, modes, policy, enclave_pubkey, enclave_report FROM idaos WHERE name=$1`, name).
		Scan(&owner, &d.Modes, &d.Policy, &d.EnclavePubkey, &d.EnclaveReport)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %q", ErrUnknownIDAO, name)
	}
	if err != nil {
		return nil, err
	}
	d.Owner = common.BytesToAddress(owner)
	rows, err := s.Pool.Query(ctx, `SELECT member, stake::text FROM idao_members WHERE idao=$1 ORDER BY member`, name)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var addr []byte
		var stake string
		if err := rows.Scan(&addr, &stake); err != nil {
			return nil, err
		}
		st, _ := new(big.Int).SetString(stake, 10)
		d.Members = append(d.Members, Member{Address: common.BytesToAddress(addr), Stake: st})
	}
	return d, rows.Err()
}

// ListIDAOs returns all iDAOs by name.
func (s *Store) ListIDAOs(ctx context.Context) ([]*IDAO, error) {
	rows, err := s.Pool.Query(ctx, `SELECT name FROM idaos ORDER BY name`)
	if err != nil {
		return nil, err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	out := make([]*IDAO, 0, len(names))
	for _, n := range names {
		d, err := s.GetIDAO(ctx, n)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// IDAOPage returns up to limit iDAOs whose names sort after after, by
// name, with their members: two queries whatever the page's size.
func (s *Store) IDAOPage(ctx context.Context, after string, limit int) ([]*IDAO, error) {
	rows, err := s.Pool.Query(ctx, `SELECT name, owner, modes, policy, enclave_pubkey, enclave_report FROM idaos
		WHERE name > $1 ORDER BY name LIMIT $2`, after, limit)
	if err != nil {
		return nil, err
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*IDAO, error) {
		d := &IDAO{}
		var owner []byte
		err := r.Scan(&d.Name, &owner, &d.Modes, &d.Policy, &d.EnclavePubkey, &d.EnclaveReport)
		d.Owner = common.BytesToAddress(owner)
		return d, err
	})
	if err != nil || len(out) == 0 {
		return out, err
	}
	names := make([]string, len(out))
	byName := make(map[string]*IDAO, len(out))
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
		st, _ := new(big.Int).SetString(stake, 10)
		d := byName[name]
		d.Members = append(d.Members, Member{Address: common.BytesToAddress(addr), Stake: st})
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

// UseNonce consumes nonce for addr inside tx: it must equal the account's
// next nonce. Used by every signed request.
func UseNonce(ctx context.Context, tx pgx.Tx, addr common.Address, nonce uint64) error {
	// One statement: create the account at nonce 0 if new, and bump only if
	// the nonce is the expected one. No row back means the nonce was wrong.
	var next int64
	err := tx.QueryRow(ctx, `INSERT INTO accounts AS a (address, next_nonce) VALUES ($1, 1)
		ON CONFLICT (address) DO UPDATE SET next_nonce = a.next_nonce + 1 WHERE a.next_nonce = $2
		RETURNING next_nonce`, addr[:], int64(nonce)).Scan(&next)
	if err == nil {
		if nonce != 0 && next == 1 {
			// a brand-new account must start at nonce 0
			return fmt.Errorf("%w: account %s has never signed, so its next nonce is 0, got %d", ErrNonceGap, addr.Hex(), nonce)
		}
		return nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return err
	}
	var cur int64
	if err := tx.QueryRow(ctx, `SELECT next_nonce FROM accounts WHERE address=$1`, addr[:]).Scan(&cur); err != nil {
		return err
	}
	if int64(nonce) < cur {
		return fmt.Errorf("%w: nonce %d of %s was already used; the next nonce is %d", ErrNonceReplay, nonce, addr.Hex(), cur)
	}
	return fmt.Errorf("%w: nonce %d of %s skips ahead; the next nonce is %d", ErrNonceGap, nonce, addr.Hex(), cur)
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

// Status type alias for brevity.
type Status = coordinator.Status

func keccak(b []byte) common.Hash { return crypto.Keccak256Hash(b) }
