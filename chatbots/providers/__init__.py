"""WhatsApp gateways: one module per provider, registered in `chatbots.providers.registry`.

The contract is `chatbots.providers.base.Provider`; nothing above this package sees a
provider's JSON.
"""
