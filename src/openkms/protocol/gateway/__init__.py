"""The KMS-instance gateway: Alibaba's dedicated-instance protocol (``dkms-gcs-0.2``), protobuf
over HTTP(S), signed with a client key."""
