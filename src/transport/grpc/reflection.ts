/**
 * gRPC server reflection, v1 and v1alpha, so grpcurl, buf curl and Postman
 * can call the API without the .proto files. Both versions have messages of
 * the same shape, so one handler serves both; only the registered service
 * descriptor differs.
 *
 * Answers come from the descriptors embedded in the generated code: every
 * file reachable from the served services, with its imports.
 */
import type { DescFile, DescMessage, DescService } from "@bufbuild/protobuf";
import { toBinary } from "@bufbuild/protobuf";
import { nestedTypes } from "@bufbuild/protobuf/reflect";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Code, type ServiceImpl } from "@connectrpc/connect";
import { ServerReflection as ServerReflectionV1 } from "../../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ServerReflectionV1alpha } from "../../../gen/grpc/reflection/v1alpha/reflection_pb.js";

/** Both reflection versions, for registering and for listing as served. */
export const reflectionServices = [ServerReflectionV1, ServerReflectionV1alpha] as const;

/** The parts of a ServerReflectionRequest (either version) this handler reads. */
interface ReflectionRequest {
  host: string;
  messageRequest:
    | {
        case: "fileByFilename" | "fileContainingSymbol" | "allExtensionNumbersOfType" | "listServices";
        value: string;
      }
    | { case: "fileContainingExtension"; value: { containingType: string; extensionNumber: number } }
    | { case: undefined; value?: undefined };
}

/** A ServerReflectionResponse of either version, as plain init data. */
interface ReflectionResponse {
  validHost: string;
  originalRequest: ReflectionRequest;
  messageResponse:
    | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
    | { case: "allExtensionNumbersResponse"; value: { baseTypeName: string; extensionNumber: number[] } }
    | { case: "listServicesResponse"; value: { service: { name: string }[] } }
    | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } };
}

type ReflectionImpl = ServiceImpl<typeof ServerReflectionV1> & ServiceImpl<typeof ServerReflectionV1alpha>;

/**
 * The ServerReflectionInfo handler for `services` (include health and
 * reflection themselves to have them listed). Register the result under
 * every entry of `reflectionServices`.
 */
export function createReflectionService(services: readonly DescService[]): ReflectionImpl {
  const index = buildIndex(services);

  const answer = (request: ReflectionRequest): ReflectionResponse["messageResponse"] => {
    const { messageRequest } = request;
    switch (messageRequest.case) {
      case "listServices":
        return {
          case: "listServicesResponse",
          value: { service: index.serviceNames.map((name) => ({ name })) },
        };
      case "fileByFilename":
        return filesOrNotFound(index.files.get(messageRequest.value), `file "${messageRequest.value}"`);
      case "fileContainingSymbol":
        return filesOrNotFound(index.symbols.get(messageRequest.value), `symbol "${messageRequest.value}"`);
      case "fileContainingExtension": {
        const { containingType, extensionNumber } = messageRequest.value;
        return filesOrNotFound(
          index.extensions.get(containingType)?.get(extensionNumber),
          `extension ${extensionNumber} of "${containingType}"`,
        );
      }
      case "allExtensionNumbersOfType": {
        const typeName = messageRequest.value;
        if (!index.messages.has(typeName)) {
          return notFound(`message type "${typeName}"`);
        }
        return {
          case: "allExtensionNumbersResponse",
          value: { baseTypeName: typeName, extensionNumber: [...(index.extensions.get(typeName)?.keys() ?? [])] },
        };
      }
      default:
        return {
          case: "errorResponse",
          value: { errorCode: Code.InvalidArgument, errorMessage: "message_request is not set" },
        };
    }
  };

  const filesOrNotFound = (file: DescFile | undefined, what: string): ReflectionResponse["messageResponse"] =>
    file === undefined
      ? notFound(what)
      : { case: "fileDescriptorResponse", value: { fileDescriptorProto: index.withDependencies(file) } };

  return {
    async *serverReflectionInfo(requests: AsyncIterable<ReflectionRequest>): AsyncIterable<ReflectionResponse> {
      for await (const request of requests) {
        yield {
          validHost: request.host,
          // A copy, not the request itself: the request is a message of the
          // other version's type when serving v1alpha through v1's shape.
          originalRequest: { host: request.host, messageRequest: copyRequest(request.messageRequest) },
          messageResponse: answer(request),
        };
      }
    },
  };
}

function notFound(what: string): ReflectionResponse["messageResponse"] {
  return { case: "errorResponse", value: { errorCode: Code.NotFound, errorMessage: `${what} not found` } };
}

function copyRequest(request: ReflectionRequest["messageRequest"]): ReflectionRequest["messageRequest"] {
  if (request.case === "fileContainingExtension") {
    const { containingType, extensionNumber } = request.value;
    return { case: request.case, value: { containingType, extensionNumber } };
  }
  return request.case === undefined ? { case: undefined } : { case: request.case, value: request.value };
}

interface Index {
  serviceNames: string[];
  files: Map<string, DescFile>;
  /** Fully-qualified name of any declared element → the file declaring it. */
  symbols: Map<string, DescFile>;
  messages: Set<string>;
  /** Extendee type name → field number → the file declaring the extension. */
  extensions: Map<string, Map<number, DescFile>>;
  /** The file and everything it imports, transitively, serialized; the file first. */
  withDependencies(file: DescFile): Uint8Array[];
}

function buildIndex(services: readonly DescService[]): Index {
  const serviceNames = [...new Set(services.map((service) => service.typeName))].sort();
  const files = new Map<string, DescFile>();
  const symbols = new Map<string, DescFile>();
  const messages = new Set<string>();
  const extensions = new Map<string, Map<number, DescFile>>();

  const addFile = (file: DescFile) => {
    if (files.has(file.proto.name)) return;
    files.set(file.proto.name, file);
    for (const type of nestedTypes(file)) {
      switch (type.kind) {
        case "service":
          symbols.set(type.typeName, file);
          for (const method of type.methods) symbols.set(`${type.typeName}.${method.name}`, file);
          break;
        case "message":
          addMessage(type, file);
          break;
        case "enum": {
          symbols.set(type.typeName, file);
          // Enum values are scoped beside their enum, not inside it (C++ rules).
          const scope = type.typeName.slice(0, type.typeName.length - type.name.length);
          for (const value of type.values) symbols.set(`${scope}${value.name}`, file);
          break;
        }
        case "extension": {
          symbols.set(type.typeName, file);
          const numbers = extensions.get(type.extendee.typeName) ?? new Map<number, DescFile>();
          numbers.set(type.number, file);
          extensions.set(type.extendee.typeName, numbers);
          break;
        }
      }
    }
    for (const dependency of file.dependencies) addFile(dependency);
  };

  const addMessage = (message: DescMessage, file: DescFile) => {
    symbols.set(message.typeName, file);
    messages.add(message.typeName);
    for (const field of message.fields) symbols.set(`${message.typeName}.${field.name}`, file);
    for (const oneof of message.oneofs) symbols.set(`${message.typeName}.${oneof.name}`, file);
  };

  for (const service of services) addFile(service.file);

  const serialized = new Map<DescFile, Uint8Array>();
  const bytesOf = (file: DescFile) => {
    let bytes = serialized.get(file);
    if (bytes === undefined) {
      bytes = toBinary(FileDescriptorProtoSchema, file.proto);
      serialized.set(file, bytes);
    }
    return bytes;
  };

  return {
    serviceNames,
    files,
    symbols,
    messages,
    extensions,
    withDependencies(file) {
      const seen = new Set<DescFile>();
      const visit = (f: DescFile) => {
        if (seen.has(f)) return;
        seen.add(f);
        for (const dependency of f.dependencies) visit(dependency);
      };
      visit(file);
      return [...seen].map(bytesOf);
    },
  };
}
