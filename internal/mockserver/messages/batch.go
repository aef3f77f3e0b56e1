package messages

import "net/http"

// What the batch task engine needs of the service for createMessages tasks, whose document
// is one CreateMessage body (iotda-messages-facts.md §5): the same rules, and the same answer
// as a subtask's output.

// Check checks a CreateMessage body without creating anything, and returns the refusal Create
// would answer (nil when the body is valid). The device is not checked: that is Create's.
func Check(body []byte) *Error {
	_, err := decodeCreate(body)
	return err
}

// CreatedBody is Create's 201 answer for m: {"message_id","result":{"status","created_time",
// "finished_time"}} (facts §1.3).
func CreatedBody(m Message) []byte {
	return jsonResponse(http.StatusCreated, struct {
		MessageID string     `json:"message_id"`
		Result    wireResult `json:"result"`
	}{m.MessageID, wireResult{Status: m.Status, CreatedTime: platformTime(m.CreatedAt),
		FinishedTime: platformTime(m.FinishedAt)}}).Body
}
