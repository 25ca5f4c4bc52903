{
  "targets": [
    {
      "target_name": "pcap_binding",
      "sources": ["pcap_binding.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lpcap"]
    }
  ]
}
