// Command ldapsync is a reference syncer: it mirrors chosen Google groups into an LDAP
// directory's groupOfNames entries, as an Active Directory job does, through Greep's Go
// client. It lists the groups, then follows Greep's change feed, adding and removing
// members as the feed says; after a restart the first list sets each entry whole, so
// changes made while it was down are not missed.
//
//	go run ./examples/ldapsync --greep http://127.0.0.1:8080 --token $TOKEN \
//	  --groups eng@example.com,ops@example.com \
//	  --ldap ldap://127.0.0.1:389 --bind-dn cn=admin,dc=greep,dc=test --bind-password secret --base dc=greep,dc=test
//
// scripts/with-slapd.sh starts a throwaway slapd for it (and its tests).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"strings"

	"github.com/greephq/greep/client"
)

func main() {
	greepURL := flag.String("greep", "http://127.0.0.1:8080", "Greep's `URL`")
	token := flag.String("token", os.Getenv("GREEP_API_TOKEN"), "greep local's API `TOKEN` (env GREEP_API_TOKEN)")
	audience := flag.String("audience", "", "use Google ID tokens for this `AUDIENCE` instead of --token (production)")
	groups := flag.String("groups", "", "comma-separated group `EMAILS` to mirror")
	ldapURL := flag.String("ldap", os.Getenv("LDAP_URL"), "LDAP `URL` (env LDAP_URL)")
	bindDN := flag.String("bind-dn", os.Getenv("LDAP_BIND_DN"), "bind `DN` (env LDAP_BIND_DN)")
	password := flag.String("bind-password", os.Getenv("LDAP_BIND_PASSWORD"), "bind password (env LDAP_BIND_PASSWORD)")
	base := flag.String("base", os.Getenv("LDAP_BASE_DN"), "base `DN`; groups go under ou=groups (env LDAP_BASE_DN)")
	flag.Parse()
	if err := run(*greepURL, *token, *audience, *groups, *ldapURL, *bindDN, *password, *base); err != nil {
		log.Fatal(err)
	}
}

func run(greepURL, token, audience, groups, ldapURL, bindDN, password, base string) error {
	if groups == "" || ldapURL == "" || base == "" {
		return fmt.Errorf("ldapsync: --groups, --ldap and --base are required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cred := client.WithStaticToken(token)
	if audience != "" {
		cred = client.WithIDToken(ctx, audience)
	}
	c, err := client.New(greepURL, cred)
	if err != nil {
		return err
	}
	s, err := NewSyncer(ldapURL, bindDN, password, base)
	if err != nil {
		return err
	}
	defer s.Close()
	inf := client.NewInformer(c, s.Callbacks(client.InformerConfig{Groups: strings.Split(groups, ","), Logf: log.Printf}))
	if err := inf.Run(ctx); err != nil && ctx.Err() == nil {
		return err
	}
	return nil
}
