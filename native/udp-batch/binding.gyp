{
  "targets": [
    {
      "target_name": "udp_batch",
      "sources": ["udp_batch.c", "reply_memo.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
