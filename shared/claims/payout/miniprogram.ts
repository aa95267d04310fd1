/**
 * The mini-program red packet: sendminiprogramhb to the mini-program openid; the client opens it
 * with wx.sendBizRedPacket, whose arguments are the whole answer (reference §8). A packet is
 * useless to its user without the `package` only a send reply carries, so a paid packet whose
 * reply was lost is re-sent with its billno to get the package back (the engine holds the claim
 * for the operator when that resend answers anything but the packet).
 */
import { ClaimPendingError } from '../errors';
import { bizRedPacketParams } from '../../signing/red-packet';
import { PACKET_CAMPAIGN_FIELDS, mchBillnoFor, packetClaimFields, packetRefusalFor, packetRequest, planPacketCampaign, queryAndReply, sendAndReply } from './redpacket';
import type { PayoutModule } from './types';

/** gethbinfo's appid for mini-program packets: the docs ask for the official account's, peers pass the mini-program's. */
export const GETHBINFO_APPID_SETTING = 'PAY_GETHBINFO_APPID';

export const miniProgramPacket: PayoutModule = {
  name: 'miniprogram',
  campaignFields: PACKET_CAMPAIGN_FIELDS,
  planCampaign: planPacketCampaign,
  billnoFor: mchBillnoFor,
  refusalFor: packetRefusalFor,
  claimFields: packetClaimFields,
  create({ settings, redPackets }) {
    const { miniProgramQueryAppId } = settings;
    const other = miniProgramQueryAppId.mode === 'official' ? 'miniprogram' : 'official';
    const appIdAlert = (errCodeDes: string | undefined): string =>
      `ILLEGAL_APPID for appid ${miniProgramQueryAppId.appId} (${errCodeDes ?? 'refused'}): sendRedPacket has ` +
      `${GETHBINFO_APPID_SETTING}=${miniProgramQueryAppId.mode}; set ${GETHBINFO_APPID_SETTING}=${other} and redeploy`;
    return {
      payeeAppId: () => settings.miniProgramAppId,
      pacingKey: `pace:${redPackets.mchId}`,
      prepare: () => redPackets.prepare(),
      send: (claim) => sendAndReply(() => redPackets.sendMiniProgram(packetRequest(claim))),
      query: (claim) => queryAndReply(() => redPackets.query(claim.mchBillno, miniProgramQueryAppId.appId), appIdAlert),
      lacksDelivery: (claim) => claim.package === null,
      answer(claim, nowMs) {
        const paid = claim.status === 'SENT' || claim.status === 'RECEIVED';
        // Reserved, being sent, or paid without its package yet: the client calls again and gets the packet.
        if (!paid || claim.package === null) throw new ClaimPendingError(Math.max(1_000, claim.nextAttemptAtMs - nowMs));
        return bizRedPacketParams({ appId: claim.appId, package: claim.package, apiKey: settings.apiKey, timeStamp: Math.floor(nowMs / 1000) });
      },
    };
  },
};
