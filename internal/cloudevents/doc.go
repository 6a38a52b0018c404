// Package cloudevents is Herald's CloudEvents v1.0 protocol layer: it turns an
// ingest HTTP request into validated events, and turns a stored event back into
// the JSON event format for webhook delivery.
//
// It exists so that everything behind the ingest endpoint can trust an event's
// shape. Producers send events in any of the three HTTP content modes (binary,
// structured and batched), and a malformed event must be refused at the door
// with an error precise enough for the producer to fix it, rather than
// surfacing later as a failed delivery nobody is watching. The package
// therefore reports every problem in a request at once, each tied to the
// event's position in the batch and to the attribute at fault.
//
// The package deliberately knows nothing of authentication, storage or JSON
// Schema; callers map its errors to HTTP problems:
//
//   - [*TooLargeError]: 413 Content Too Large.
//   - [ErrUnsupportedMediaType] (via errors.Is): 415 Unsupported Media Type.
//   - [*ValidationError]: 400 Bad Request, one entry per [Problem].
//
// Any other error from [Parse] means the request body could not be read.
//
// Decisions where the specification leaves room, made once here so that
// producers see consistent behaviour:
//
//   - In binary mode a ce-datacontenttype header is rejected (rule
//     [RuleForbidden]): the binding says Content-Type carries that attribute
//     and the other header MUST NOT be present, so accepting either would
//     silently pick one of two conflicting values.
//   - In binary mode a missing Content-Type with a non-empty body means the
//     data must be JSON, mirroring the JSON format, where an absent
//     datacontenttype means application/json. Without this rule such an event
//     could not be re-encoded faithfully for delivery.
//   - Header values that are not correctly percent-encoded (a bare % sign, say)
//     are rejected, as the binding requires. Note that sdk-go v2.16.2 sends
//     header values without encoding them, so a value it sends containing % is
//     refused.
//   - The zero time.Time stands for an absent time attribute, so an event
//     whose time is exactly 0001-01-01T00:00:00Z loses it.
//   - Integer extension values must be integral JSON numbers within the
//     signed 32-bit range; they are stored as int32.
//   - data_base64 under a JSON datacontenttype (application/json, text/json,
//     */*+json) is decoded and held as JSON data, exactly as if it had been
//     sent in data: sdk-go and other SDKs send data set from bytes that
//     way. It must then decode to JSON (rule [RuleJSON], field data_base64).
//     Without a datacontenttype data_base64 stays binary: the JSON default
//     applies to data only.
//   - A JSON object anywhere in an event (the envelope, data, data decoded
//     from data_base64 or a binary-mode body) that names a member twice is
//     refused (rule [RuleDuplicateKey], the field is the member's path such
//     as data.order), as I-JSON (RFC 7493) requires: readers disagree on
//     which value counts, so schema validation and a receiver could act on
//     different data. Package jsoncheck makes that check for all of Herald.
package cloudevents
