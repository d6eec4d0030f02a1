"""An independent client of Dex's gRPC API: Python's grpcio with stubs that protoc generates from the proto.

Usage: python3 dex_api_client.py PROTO TARGET [--ca FILE] [--cert FILE --key FILE] [--server-name NAME]
Reads a JSON list of calls, [{"method": "CreateClient", "request": {...}}, ...], from stdin and prints a JSON list of
outcomes: {"reply": {...}} or {"code": "UNKNOWN", "details": "..."}. Messages use the proto's field names; bytes
fields are base64, as protobuf's JSON mapping has them. Without --ca the channel is plaintext.
"""
import argparse
import importlib
import json
import os
import sys
import tempfile

import grpc
from google.protobuf import json_format
from grpc_tools import protoc


def load_stubs(proto):
    out = tempfile.mkdtemp(prefix="dex-api-")
    include = os.path.dirname(os.path.abspath(proto))
    code = protoc.main(["protoc", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", os.path.abspath(proto)])
    if code != 0:
        raise SystemExit(f"protoc failed with {code}")
    sys.path.insert(0, out)
    name = os.path.splitext(os.path.basename(proto))[0]
    return importlib.import_module(f"{name}_pb2"), importlib.import_module(f"{name}_pb2_grpc")


def channel_of(args):
    if args.ca is None:
        return grpc.insecure_channel(args.target)
    read = lambda path: open(path, "rb").read() if path else None
    credentials = grpc.ssl_channel_credentials(read(args.ca), read(args.key), read(args.cert))
    options = [("grpc.ssl_target_name_override", args.server_name)] if args.server_name else []
    return grpc.secure_channel(args.target, credentials, options)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("proto")
    parser.add_argument("target")
    parser.add_argument("--ca")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--server-name")
    args = parser.parse_args()
    pb2, pb2_grpc = load_stubs(args.proto)
    service = pb2.DESCRIPTOR.services_by_name["Dex"]
    stub = pb2_grpc.DexStub(channel_of(args))
    outcomes = []
    for call in json.load(sys.stdin):
        method = service.methods_by_name[call["method"]]
        request = json_format.ParseDict(call.get("request", {}), getattr(pb2, method.input_type.name)())
        try:
            reply = getattr(stub, call["method"])(request, timeout=20)
            outcomes.append({"reply": json_format.MessageToDict(reply, preserving_proto_field_name=True)})
        except grpc.RpcError as err:
            outcomes.append({"code": err.code().name, "details": err.details()})
    json.dump(outcomes, sys.stdout)


if __name__ == "__main__":
    main()
