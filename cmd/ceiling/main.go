// Command ceiling is the yardstick of the HTTP benchmarks: a bare
// net/http handler that does what any Redis-backed USSD callback must do
// and nothing else (parse the form, one Redis GET and one SET of the
// session, answer CON). What the gateway reaches as a share of this, on the
// same machine in the same run, is what its own work costs. A command: it
// may import anything of ours (today only ussd) and nothing imports it.
package main

import (
	"context"
	"flag"
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/ussdgw/ussdgw/ussd"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "listen address")
	redisURL := flag.String("redis-url", "redis://127.0.0.1:6379/0", "Redis URL")
	autopipeline := flag.Bool("autopipeline", false, "send the commands of concurrent requests together, as the gateway does by default")
	flag.Parse()
	rc, err := ussd.NewRedisClient(*redisURL)
	if err != nil {
		log.Fatal(err)
	}
	if err := rc.Ping(context.Background()).Err(); err != nil {
		log.Fatal(err)
	}
	var c redis.Cmdable = rc
	if *autopipeline {
		if c, err = rc.(*redis.Client).AutoPipeline(); err != nil {
			log.Fatal(err)
		}
	}
	http.HandleFunc("POST /ussd/africastalking", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		key := "ceiling:{" + r.FormValue("phoneNumber") + "}"
		ctx := r.Context()
		prev, err := c.Get(ctx, key).Result()
		if err != nil && err != redis.Nil {
			http.Error(w, "redis", http.StatusInternalServerError)
			return
		}
		if err := c.Set(ctx, key, r.FormValue("text")+prev[:min(len(prev), 8)], 0).Err(); err != nil {
			http.Error(w, "redis", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("CON Welcome\n1. Check prices\n2. Compare markets\n3. Price alerts\n4. Language"))
	})
	log.Printf("ceiling listening on http://%s", *listen)
	log.Fatal(http.ListenAndServe(*listen, nil))
}
