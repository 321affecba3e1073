// Package secrets wires Ghillie's application Secret from the Secrets the
// platform operators create: CloudNativePG's "<cluster>-app" and the Valkey
// password Secret. No secret value is ever logged or put in an error.
package secrets

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Keys of the application Secret.
const (
	KeyDatabaseURL        = "DATABASE_URL"
	KeyGhillieDatabaseURL = "GHILLIE_DATABASE_URL"
	KeyValkeyURL          = "VALKEY_URL"
)

// ValkeyCRD is the CustomResourceDefinition valkey-operator installs.
const ValkeyCRD = "valkeys.hyperspike.io"

// Config names the Secrets to read and the one to write.
type Config struct {
	// Namespace holds all three Secrets.
	Namespace string
	// Name is the application Secret to write ("ghillie").
	Name string
	// PostgresCluster is the CNPG Cluster; its Secret is "<cluster>-app".
	PostgresCluster string
	// Valkey is the Valkey resource; its Secret and Service share its name.
	Valkey string
}

// Outcome is what Ensure did.
type Outcome string

// Outcomes of Ensure.
const (
	Created   Outcome = "created"
	Updated   Outcome = "updated"
	Unchanged Outcome = "unchanged"
	// Waiting means a source Secret does not exist yet: the operators have
	// not made it. Call Ensure again later.
	Waiting Outcome = "waiting"
)

// ManagedByLabel marks the Secrets gitops-local writes.
const ManagedByLabel = "app.kubernetes.io/managed-by"

// Ensure creates or updates the application Secret when both source Secrets
// exist, and reports Waiting (naming what is missing) when one does not. It
// fails fast when valkey-operator's CRD is not installed.
func Ensure(ctx context.Context, c client.Client, cfg Config) (Outcome, string, error) {
	crd := &metav1.PartialObjectMetadata{}
	crd.SetGroupVersionKind(crdGVK)
	if err := c.Get(ctx, types.NamespacedName{Name: ValkeyCRD}, crd); err != nil {
		if apierrors.IsNotFound(err) {
			return "", "", fmt.Errorf("valkey-operator is not installed (no CRD %s): the platform Kustomization installs it from gitops/platform/valkey-operator; check `gitops-local status` for the valkey-operator HelmRelease", ValkeyCRD)
		}
		return "", "", fmt.Errorf("looking up CRD %s: %w", ValkeyCRD, err)
	}

	pgName := cfg.PostgresCluster + "-app"
	pg, err := get(ctx, c, cfg.Namespace, pgName)
	if err != nil || pg == nil {
		return Waiting, fmt.Sprintf("Secret %s/%s (made by CloudNativePG)", cfg.Namespace, pgName), err
	}
	vk, err := get(ctx, c, cfg.Namespace, cfg.Valkey)
	if err != nil || vk == nil {
		return Waiting, fmt.Sprintf("Secret %s/%s (made by valkey-operator)", cfg.Namespace, cfg.Valkey), err
	}
	data, err := AppData(pg, vk, cfg)
	if err != nil {
		return "", "", err
	}

	existing, err := get(ctx, c, cfg.Namespace, cfg.Name)
	if err != nil {
		return "", "", err
	}
	if existing == nil {
		s := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: cfg.Name, Namespace: cfg.Namespace, Labels: map[string]string{ManagedByLabel: "gitops-local"}},
			Type:       corev1.SecretTypeOpaque,
			Data:       data,
		}
		if err := c.Create(ctx, s); err != nil {
			return "", "", fmt.Errorf("creating Secret %s/%s: %w", cfg.Namespace, cfg.Name, err)
		}
		return Created, "", nil
	}
	if sameData(existing.Data, data) {
		return Unchanged, "", nil
	}
	if existing.Data == nil {
		existing.Data = map[string][]byte{}
	}
	for k, v := range data {
		existing.Data[k] = v
	}
	if err := c.Update(ctx, existing); err != nil {
		return "", "", fmt.Errorf("updating Secret %s/%s: %w", cfg.Namespace, cfg.Name, err)
	}
	return Updated, "", nil
}

var crdGVK = schema.GroupVersionKind{Group: "apiextensions.k8s.io", Version: "v1", Kind: "CustomResourceDefinition"}

// get returns the Secret, or nil when it does not exist.
func get(ctx context.Context, c client.Client, ns, name string) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	if err := c.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, s); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("reading Secret %s/%s: %w", ns, name, err)
	}
	return s, nil
}

// AppData computes the application Secret's data from CNPG's app Secret and
// the Valkey Secret. Errors name the Secret and key, never a value.
func AppData(pg, valkey *corev1.Secret, cfg Config) (map[string][]byte, error) {
	uri, err := key(pg, "uri")
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(string(uri))
	if err != nil || (u.Scheme != "postgresql" && u.Scheme != "postgres") || u.Host == "" {
		// url.Parse errors quote the input, which holds the password.
		return nil, fmt.Errorf("secret %s/%s: key uri is not a postgresql:// URL", pg.Namespace, pg.Name)
	}
	// Keep CNPG's URI byte for byte; only the scheme differs for asyncpg.
	async := "postgresql+asyncpg" + string(uri)[len(u.Scheme):]

	password, err := key(valkey, "password")
	if err != nil {
		return nil, err
	}
	vk := url.URL{
		Scheme: "valkey",
		User:   url.UserPassword("", string(password)),
		Host:   fmt.Sprintf("%s.%s.svc.cluster.local:6379", cfg.Valkey, cfg.Namespace),
	}
	return map[string][]byte{
		KeyDatabaseURL:        uri,
		KeyGhillieDatabaseURL: []byte(async),
		KeyValkeyURL:          []byte(vk.String()),
	}, nil
}

func key(s *corev1.Secret, k string) ([]byte, error) {
	v, ok := s.Data[k]
	if !ok || len(v) == 0 {
		have := make([]string, 0, len(s.Data))
		for name := range s.Data {
			have = append(have, name)
		}
		sort.Strings(have)
		return nil, fmt.Errorf("secret %s/%s has no key %q (keys: %s)", s.Namespace, s.Name, k, strings.Join(have, ", "))
	}
	return v, nil
}

func sameData(have, want map[string][]byte) bool {
	for k, v := range want {
		if !bytes.Equal(have[k], v) {
			return false
		}
	}
	return true
}
