package main

import (
	"errors"
	"fmt"
	"log"
	"strings"
	"sync"

	"github.com/go-ldap/ldap/v3"

	"github.com/greephq/greep/client"
	"github.com/greephq/greep/pkg/greep"
)

// placeholder keeps a groupOfNames valid while its Google group is empty: the object
// class requires one member value, as Active Directory tools that mirror into OpenLDAP do.
const placeholder = "cn=nobody"

// Syncer mirrors Google groups into groupOfNames entries under groupsDN: each kept group
// is the entry cn=<group email>, with one member value per Google member,
// uid=<member email>,<peopleDN>.
type Syncer struct {
	mu       sync.Mutex // one LDAP connection, one writer at a time
	conn     *ldap.Conn
	base     string
	groupsDN string
	peopleDN string
	// written, when set, hears of every LDAP write the feed caused (the benchmark's clock).
	written func(group string, m greep.Member)
}

// NewSyncer binds to the directory and makes sure the base, ou=groups and ou=people exist.
func NewSyncer(url, bindDN, password, base string) (*Syncer, error) {
	conn, err := ldap.DialURL(url)
	if err != nil {
		return nil, fmt.Errorf("ldap %s: %w", url, err)
	}
	if err := conn.Bind(bindDN, password); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ldap bind %s: %w", bindDN, err)
	}
	s := &Syncer{conn: conn, base: base, groupsDN: "ou=groups," + base, peopleDN: "ou=people," + base}
	attr, val, _ := strings.Cut(strings.SplitN(base, ",", 2)[0], "=")
	baseAttrs := map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {val}}
	if strings.EqualFold(attr, "dc") {
		baseAttrs = map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {val}, "o": {val}}
	}
	for _, e := range []struct {
		dn    string
		attrs map[string][]string
	}{
		{base, baseAttrs},
		{s.groupsDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"groups"}}},
		{s.peopleDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}}},
	} {
		if err := s.add(e.dn, e.attrs); err != nil {
			conn.Close()
			return nil, err
		}
	}
	return s, nil
}

// Close closes the connection.
func (s *Syncer) Close() error { return s.conn.Close() }

func (s *Syncer) add(dn string, attrs map[string][]string) error {
	r := ldap.NewAddRequest(dn, nil)
	for k, v := range attrs {
		r.Attribute(k, v)
	}
	if err := s.conn.Add(r); err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		return fmt.Errorf("ldap add %s: %w", dn, err)
	}
	return nil
}

func (s *Syncer) groupDN(group string) string {
	return "cn=" + ldap.EscapeDN(strings.ToLower(group)) + "," + s.groupsDN
}

func (s *Syncer) memberDN(m greep.Member) string {
	key := m.Email
	if key == "" {
		key = m.ID
	}
	return "uid=" + ldap.EscapeDN(strings.ToLower(key)) + "," + s.peopleDN
}

// Converge sets the group's entry to exactly members (the informer's OnList).
func (s *Syncer) Converge(group string, members []greep.Member) {
	s.mu.Lock()
	defer s.mu.Unlock()
	vals := []string{placeholder}
	for _, m := range members {
		vals = append(vals, s.memberDN(m))
	}
	if err := s.add(s.groupDN(group), map[string][]string{"objectClass": {"groupOfNames"}, "cn": {strings.ToLower(group)}, "member": vals}); err != nil {
		log.Printf("ldapsync: %v", err)
		return
	}
	r := ldap.NewModifyRequest(s.groupDN(group), nil)
	r.Replace("member", vals)
	if err := s.conn.Modify(r); err != nil {
		log.Printf("ldapsync: converge %s: %v", group, err)
	}
}

// Add adds one member (the informer's OnAdd), creating the group's entry with it when
// there is none yet; a value already there is no error.
func (s *Syncer) Add(group string, m greep.Member) {
	s.modify(group, m, func(r *ldap.ModifyRequest, v []string) { r.Add("member", v) }, ldap.LDAPResultAttributeOrValueExists, true)
}

// Remove removes one member (the informer's OnRemove); a value or entry already gone is
// no error.
func (s *Syncer) Remove(group string, m greep.Member) {
	s.modify(group, m, func(r *ldap.ModifyRequest, v []string) { r.Delete("member", v) }, ldap.LDAPResultNoSuchAttribute, false)
}

func (s *Syncer) modify(group string, m greep.Member, op func(*ldap.ModifyRequest, []string), harmless uint16, create bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := ldap.NewModifyRequest(s.groupDN(group), nil)
	op(r, []string{s.memberDN(m)})
	err := s.conn.Modify(r)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		err = nil
		if create {
			err = s.add(s.groupDN(group), map[string][]string{"objectClass": {"groupOfNames"}, "cn": {strings.ToLower(group)}, "member": {placeholder, s.memberDN(m)}})
		}
	}
	if err != nil && !ldap.IsErrorWithCode(err, harmless) {
		// The next list (a restart, the informer's recheck) converges the entry.
		log.Printf("ldapsync: %s %s: %v", group, m.Email, err)
		return
	}
	if s.written != nil {
		s.written(group, m)
	}
}

// Members reads the group's entry: the member emails (uid values), sorted.
func (s *Syncer) Members(group string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	res, err := s.conn.Search(ldap.NewSearchRequest(s.groupDN(group), ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		0, 0, false, "(objectClass=groupOfNames)", []string{"member"}, nil))
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if len(res.Entries) != 1 {
		return nil, errors.New("ldapsync: group entry not found")
	}
	var out []string
	for _, dn := range res.Entries[0].GetAttributeValues("member") {
		if dn == placeholder {
			continue
		}
		p, err := ldap.ParseDN(dn)
		if err != nil || len(p.RDNs) == 0 {
			return nil, fmt.Errorf("ldapsync: member %q: %v", dn, err)
		}
		out = append(out, p.RDNs[0].Attributes[0].Value)
	}
	return out, nil
}

// Callbacks wires the syncer into an informer's configuration.
func (s *Syncer) Callbacks(cfg client.InformerConfig) client.InformerConfig {
	cfg.OnAdd, cfg.OnRemove, cfg.OnList = s.Add, s.Remove, s.Converge
	return cfg
}
