{
  "targets": [
    {
      "target_name": "skiff_sys",
      "sources": ["sys.c"],
      "cflags": ["-O2", "-Wall"]
    }
  ]
}
