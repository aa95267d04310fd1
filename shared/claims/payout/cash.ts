/**
 * The cash red packet: sendredpack to the person's openid under the official account; the packet
 * arrives in the account's chat, so the client only learns the claim's state (reference §7).
 */
import { PACKET_CAMPAIGN_FIELDS, mchBillnoFor, packetClaimFields, packetRefusalFor, packetRequest, planPacketCampaign, queryAndReply, sendAndReply } from './redpacket';
import type { PayoutModule } from './types';

/** What a cash-packet client gets: the claim's state (the packet itself is in the official account's chat). */
export interface CashClaimView {
  campaignId: string;
  kind: 'cash';
  /** SENT: paid, waiting in the chat. RECEIVED: opened. RESERVED/SENDING/UNKNOWN: reserved, being sent; ask again later. */
  status: 'SENT' | 'RECEIVED' | 'RESERVED' | 'SENDING' | 'UNKNOWN';
  amountFen: number;
}

export const cashPacket: PayoutModule = {
  name: 'cash',
  campaignFields: PACKET_CAMPAIGN_FIELDS,
  planCampaign: planPacketCampaign,
  billnoFor: mchBillnoFor,
  refusalFor: packetRefusalFor,
  claimFields: packetClaimFields,
  create({ settings, redPackets }) {
    // Here the docs and peers agree: the appid is the official account's, the one the packet was sent under.
    const appIdAlert = (errCodeDes: string | undefined): string =>
      `ILLEGAL_APPID for appid ${settings.officialAppId} (${errCodeDes ?? 'refused'}): bind the official account WX_OA_APPID to the merchant in 商户平台 → 产品中心 → AppID账号管理`;
    return {
      payeeAppId: () => settings.officialAppId,
      pacingKey: `pace:${redPackets.mchId}`,
      prepare: () => redPackets.prepare(),
      send: (claim) => sendAndReply(() => redPackets.sendCash({ ...packetRequest(claim), clientIp: settings.clientIp })),
      query: (claim) => queryAndReply(() => redPackets.query(claim.mchBillno, claim.appId), appIdAlert),
      lacksDelivery: () => false,
      answer: (claim): CashClaimView => ({ campaignId: claim.campaignId, kind: 'cash', status: claim.status as CashClaimView['status'], amountFen: claim.amountFen }),
    };
  },
};
