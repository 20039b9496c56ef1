package natsembed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/ethereum/go-ethereum/common"
	"github.com/nats-io/nats-server/v2/server"

	"github.com/vsc-labs/vsc/internal/bus"
)

// User is one user of an embedded server: a role holder.
type User struct {
	Name   string
	Roles  []bus.Role
	Member common.Address // with bus.RoleMember: the member's account; with bus.RoleProvider: the provider's
}

// sameAccount reports whether stored credentials name u's account.
func sameAccount(c *bus.Credentials, u User) bool {
	return (!slices.Contains(u.Roles, bus.RoleMember) || c.User.Member == u.Member) &&
		(!slices.Contains(u.Roles, bus.RoleProvider) || c.User.Provider == u.Member)
}

// Start starts an embedded server that enforces the roles' permissions
// for users, and returns their credentials by name: made afresh, or kept in
// credsDir (NAME.creds, 0600) so that processes outside can connect as them
// and a restart keeps them. An empty credsDir keeps nothing.
func Start(o Options, credsDir string, users []User) (*server.Server, map[string]*bus.Credentials, error) {
	creds := map[string]*bus.Credentials{}
	for _, u := range users {
		c, err := loadOrMake(credsDir, u)
		if err != nil {
			return nil, nil, fmt.Errorf("NATS user %s: %w", u.Name, err)
		}
		creds[u.Name] = c
		o.Users = append(o.Users, c.User)
	}
	srv, err := Run(o)
	if err != nil {
		return nil, nil, err
	}
	return srv, creds, nil
}

func loadOrMake(dir string, u User) (*bus.Credentials, error) {
	if dir == "" {
		return bus.NewCredentials(u.Name, u.Roles, u.Member)
	}
	path := filepath.Join(dir, u.Name+".creds")
	c, err := bus.LoadCredentials(path)
	if err == nil && slices.Equal(c.User.Roles, u.Roles) && sameAccount(c, u) {
		return c, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if c, err = bus.NewCredentials(u.Name, u.Roles, u.Member); err != nil {
		return nil, err
	}
	return c, c.WriteFile(path)
}
