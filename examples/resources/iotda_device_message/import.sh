# A message IoTDA still keeps (the last 20 of a device) is imported by device_id/message_id.
terraform import iotda_device_message.interval meter-17/99b32da9-cd17-4cdf-a286-f6e849cbc364
