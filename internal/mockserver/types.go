package mockserver

import (
	"context"
	"time"

	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/broker"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/commands"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/delivery"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/faults"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/journal"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/registry"
	"github.com/iotdalabs/terraform-provider-iotda/internal/mockserver/simdevice"
)

// The types and values of the packages beneath, under the names tests and the standalone
// binaries have always used.

// Device is an entry in the platform's device registry; see package registry.
type Device = registry.Device

// BehaviorKind selects how a simulated device answers.
type BehaviorKind = registry.BehaviorKind

// Simulated device behaviours; see package registry.
const (
	BehaviorReply  = registry.BehaviorReply
	BehaviorEcho   = registry.BehaviorEcho
	BehaviorSilent = registry.BehaviorSilent
)

// Behavior is what a simulated device does with a command; see package registry.
type Behavior = registry.Behavior

// Group is a device group in the registry; see package registry.
type Group = registry.Group

// Fleet is many simulated devices sharing one behaviour; see package registry.
type Fleet = registry.Fleet

// MaxFleetCount is the largest Fleet.Count.
const MaxFleetCount = registry.MaxFleetCount

// ErrFleetNotFound means no fleet has the given prefix.
var ErrFleetNotFound = registry.ErrFleetNotFound

// ErrLimit means a device or fleet would take the mock past Limits.MaxDevices or
// Limits.MaxFleets.
var ErrLimit = registry.ErrLimit

// Errors of the device side; see package delivery.
var (
	// ErrDeviceNotFound means the device is not in the registry.
	ErrDeviceNotFound = delivery.ErrDeviceNotFound
	// ErrDeviceOffline means the device has no live MQTT session.
	ErrDeviceOffline = delivery.ErrDeviceOffline
)

// DeviceCredentials returns the MQTT client id, username and password a device with this
// id and secret presents to the platform at CONNECT, using signType 1 (timestamp checked)
// and the UTC hour of now. It is what the simulated devices use, and lets tests connect
// their own MQTT clients as a registered device.
func DeviceCredentials(deviceID, secret string, now time.Time) (clientID, username, password string) {
	return broker.DeviceCredentials(deviceID, secret, now)
}

// DeviceOptions configures RunDevice; see package simdevice.
type DeviceOptions = simdevice.Options

// DeviceEventKind says what a DeviceEvent reports.
type DeviceEventKind = simdevice.EventKind

// Device events; see package simdevice.
const (
	DeviceEventConnected    = simdevice.EventConnected
	DeviceEventSubscribed   = simdevice.EventSubscribed
	DeviceEventCommand      = simdevice.EventCommand
	DeviceEventMessage      = simdevice.EventMessage
	DeviceEventAsleep       = simdevice.EventAsleep
	DeviceEventDisconnected = simdevice.EventDisconnected
)

// DeviceMessage is a device message as a device reads it; see simdevice.Message.
type DeviceMessage = simdevice.Message

// DeviceEvent is something a device run by RunDevice did.
type DeviceEvent = simdevice.Event

// RunDevice runs a device until ctx ends, answering commands as o.Behavior says; see
// simdevice.Run.
func RunDevice(ctx context.Context, o DeviceOptions) error { return simdevice.Run(ctx, o) }

// Command is a command on its way to a device; see package commands.
type Command = commands.Command

// EntryKind says what a journal entry records.
type EntryKind = journal.EntryKind

// Journal entry kinds; see package journal.
const (
	EntryRequest    = journal.EntryRequest
	EntryDelivery   = journal.EntryDelivery
	EntryRedelivery = journal.EntryRedelivery
	EntryReply      = journal.EntryReply
	EntryLateReply  = journal.EntryLateReply
	EntryConnect    = journal.EntryConnect
	EntryDisconnect = journal.EntryDisconnect
)

// Entry is one thing the mock saw or did; see package journal.
type Entry = journal.Entry

// Fault makes the platform API misbehave for the next matching requests; see package faults.
type Fault = faults.Fault

// Operations of the platform API a Fault's Operation can name; see package faults.
const (
	OpCreateCommand       = faults.OpCreateCommand
	OpCreateBatchTask     = faults.OpCreateBatchTask
	OpListBatchTasks      = faults.OpListBatchTasks
	OpShowBatchTask       = faults.OpShowBatchTask
	OpDeleteBatchTask     = faults.OpDeleteBatchTask
	OpCreateMessage       = faults.OpCreateMessage
	OpListDeviceMessages  = faults.OpListDeviceMessages
	OpShowDeviceMessage   = faults.OpShowDeviceMessage
	OpDeleteDeviceMessage = faults.OpDeleteDeviceMessage
)
