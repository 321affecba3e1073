package secrets

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

const pgPassword = "pg-S3cr3t/with:chars@"
const vkPassword = "vk-p@ss:word/x"

var cfg = Config{Namespace: "ghillie", Name: "ghillie", PostgresCluster: "ghillie-pg", Valkey: "ghillie-valkey"}

func pgSecret() *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "ghillie-pg-app", Namespace: "ghillie"},
		Type:       corev1.SecretTypeBasicAuth,
		Data: map[string][]byte{
			"username": []byte("ghillie"),
			"password": []byte(pgPassword),
			"uri":      []byte("postgresql://ghillie:" + "pg-S3cr3t%2Fwith:chars%40" + "@ghillie-pg-rw.ghillie:5432/ghillie"),
		},
	}
}

func vkSecret() *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "ghillie-valkey", Namespace: "ghillie"},
		Data:       map[string][]byte{"password": []byte(vkPassword)},
	}
}

func valkeyCRD() *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: ValkeyCRD}}
}

func newClient(t *testing.T, objs ...client.Object) client.Client {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := apiextensionsv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).Build()
}

func TestAppData(t *testing.T) {
	data, err := AppData(pgSecret(), vkSecret(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		KeyDatabaseURL:        "postgresql://ghillie:pg-S3cr3t%2Fwith:chars%40@ghillie-pg-rw.ghillie:5432/ghillie",
		KeyGhillieDatabaseURL: "postgresql+asyncpg://ghillie:pg-S3cr3t%2Fwith:chars%40@ghillie-pg-rw.ghillie:5432/ghillie",
		KeyValkeyURL:          "valkey://:vk-p%40ss%3Aword%2Fx@ghillie-valkey.ghillie.svc.cluster.local:6379",
	}
	for k, v := range want {
		if string(data[k]) != v {
			t.Errorf("%s = %q, want %q", k, data[k], v)
		}
	}
	if len(data) != 3 {
		t.Errorf("got keys %v, want exactly three", data)
	}
}

func TestAppDataErrorsNeverShowValues(t *testing.T) {
	noURI := pgSecret()
	delete(noURI.Data, "uri")
	badURI := pgSecret()
	badURI.Data["uri"] = []byte("mysql://root:" + pgPassword + "@x/y")
	noPass := vkSecret()
	noPass.Data = map[string][]byte{"pass": []byte(vkPassword)}
	cases := []struct {
		name     string
		pg, vk   *corev1.Secret
		contains string
	}{
		{"missing uri", noURI, vkSecret(), `secret ghillie/ghillie-pg-app has no key "uri" (keys: password, username)`},
		{"wrong scheme", badURI, vkSecret(), "secret ghillie/ghillie-pg-app: key uri is not a postgresql:// URL"},
		{"missing password", pgSecret(), noPass, `secret ghillie/ghillie-valkey has no key "password" (keys: pass)`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AppData(tc.pg, tc.vk, cfg)
			if err == nil || err.Error() != tc.contains {
				t.Fatalf("err = %v, want %q", err, tc.contains)
			}
			for _, secret := range []string{pgPassword, vkPassword, "S3cr3t"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret value: %v", err)
				}
			}
		})
	}
}

func TestEnsure(t *testing.T) {
	ctx := context.Background()

	t.Run("no valkey CRD fails fast", func(t *testing.T) {
		_, _, err := Ensure(ctx, newClient(t, pgSecret(), vkSecret()), cfg)
		if err == nil || !strings.Contains(err.Error(), "valkey-operator is not installed (no CRD valkeys.hyperspike.io)") {
			t.Fatalf("err = %v", err)
		}
	})

	t.Run("waits for the operators' secrets", func(t *testing.T) {
		c := newClient(t, valkeyCRD(), vkSecret())
		out, what, err := Ensure(ctx, c, cfg)
		if err != nil || out != Waiting || !strings.Contains(what, "ghillie/ghillie-pg-app") {
			t.Fatalf("got %q %q %v", out, what, err)
		}
		c = newClient(t, valkeyCRD(), pgSecret())
		out, what, err = Ensure(ctx, c, cfg)
		if err != nil || out != Waiting || !strings.Contains(what, "ghillie/ghillie-valkey") {
			t.Fatalf("got %q %q %v", out, what, err)
		}
	})

	t.Run("creates, then leaves alone, then updates", func(t *testing.T) {
		c := newClient(t, valkeyCRD(), pgSecret(), vkSecret())
		if out, _, err := Ensure(ctx, c, cfg); err != nil || out != Created {
			t.Fatalf("first = %q, %v", out, err)
		}
		got := &corev1.Secret{}
		if err := c.Get(ctx, types.NamespacedName{Namespace: "ghillie", Name: "ghillie"}, got); err != nil {
			t.Fatal(err)
		}
		if len(got.Data) != 3 || got.Labels[ManagedByLabel] != "gitops-local" {
			t.Errorf("secret = %+v", got)
		}
		if out, _, err := Ensure(ctx, c, cfg); err != nil || out != Unchanged {
			t.Fatalf("second = %q, %v", out, err)
		}
		// The operator rotates the Valkey password.
		vk := vkSecret()
		if err := c.Get(ctx, types.NamespacedName{Namespace: "ghillie", Name: "ghillie-valkey"}, vk); err != nil {
			t.Fatal(err)
		}
		vk.Data["password"] = []byte("rotated")
		if err := c.Update(ctx, vk); err != nil {
			t.Fatal(err)
		}
		if out, _, err := Ensure(ctx, c, cfg); err != nil || out != Updated {
			t.Fatalf("after rotation = %q, %v", out, err)
		}
		if err := c.Get(ctx, types.NamespacedName{Namespace: "ghillie", Name: "ghillie"}, got); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(got.Data[KeyValkeyURL]), ":rotated@") {
			t.Errorf("VALKEY_URL not updated after rotation")
		}
	})
}
