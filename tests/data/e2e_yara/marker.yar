rule Mamori_Test_Dropper {
  meta:
    description = "Mamori end-to-end test marker"
    threat_name = "Linux.Trojan.MamoriTest"
    severity = 80
  strings:
    $m = "MAMORI-E2E-YARA-MARKER-5c1d"
  condition:
    $m
}
